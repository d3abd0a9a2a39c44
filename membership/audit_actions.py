"""What the membership app records in the audit trail beyond create/update/delete; registered
with the kernel in MembershipConfig.ready (crm.audit_actions)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class MembershipAuditAction(models.TextChoices):
    POINTS_ADJUST = "points_adjust", _("Points adjustment")
    POINTS_REDEEM = "points_redeem", _("Points redemption")
    POINTS_RELEASE = "points_release", _("Points hold released")
    LEVEL_CHANGE = "level_change", _("Tier change")
    ENROLL = "enroll", _("Membership enrolment")
    BENEFIT_USE = "benefit_use", _("Benefit use")
    BENEFIT_REVERSAL = "benefit_reversal", _("Benefit use reversed")
    RENEW = "renew", _("Membership renewal")
