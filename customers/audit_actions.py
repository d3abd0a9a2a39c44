"""What the customers app records in the audit trail beyond create/update/delete; registered
with the kernel in CustomersConfig.ready (crm.audit_actions)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CustomerAuditAction(models.TextChoices):
    BATCH_UPDATE = "batch_update", _("Batch update")
    REVEAL_PII = "reveal_pii", _("Reveal personal data")
    EXPORT = "export", _("Export")
    IMPORT = "import", _("Import")
    DOWNLOAD = "download", _("File download")
    ERASE = "erase", _("Erase personal data")
