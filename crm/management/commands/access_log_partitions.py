from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from crm.access_log_partitions import maintain_access_log_partitions


class Command(BaseCommand):
    help = (
        "Create the access log's partitions of this month and the next, and drop those older "
        "than ACCESS_LOG_RETENTION_DAYS (the nightly job does it too). docs/audit.md."
    )

    def handle(self, *args, **options):
        run = maintain_access_log_partitions()
        self.stdout.write(
            _("Partitions created: %(created)d, dropped: %(dropped)d.")
            % {"created": run.counts["created"], "dropped": run.counts["dropped"]}
        )
