"""Tier changes (with manual changes) and benefit usage: read-only records of each customer."""

from django.contrib import admin
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.admin_audit import ReadOnlyAdminMixin
from membership.admin.forms import ChangeLevelForm
from membership.admin.records import (
    CHANGE_LEVEL_PERMISSION,
    CustomerRecordsAdmin,
    tier_names,
)
from membership.models import (
    BenefitUsage,
    LevelChange,
)
from membership.services.levels import (
    change_level,
)

# --- tier changes and benefit usage --------------------------------------------------------


@admin.register(LevelChange)
class LevelChangeAdmin(ReadOnlyAdminMixin, CustomerRecordsAdmin):
    list_display = (
        "created_at",
        "customer_no",
        "customer_name",
        "from_display",
        "to_display",
        "kind",
        "reason",
        "actor",
        "notification_status",
    )
    list_display_links = ("created_at",)
    list_filter = ("kind", "notification_status")
    list_select_related = ("customer", "actor")
    customer_ordering = ("-created_at", "-id")  # level_change_customer_idx
    customer_change = "change_tier"
    customer_change_title = _("Change tier")
    customer_change_permission = CHANGE_LEVEL_PERMISSION
    fields = (
        "customer",
        ("from_level", "to_level", "kind"),
        "reason",
        "actor",
        "notification_status",
        "created_at",
    )

    @admin.display(description=_("from"))
    def from_display(self, change):
        return tier_names().get(change.from_level, change.from_level)

    @admin.display(description=_("to"))
    def to_display(self, change):
        return tier_names().get(change.to_level, change.to_level)

    def customer_change_form(self, request, customer):
        return ChangeLevelForm(request.POST or None, current=customer.level)

    def perform_customer_change(self, request, customer, data):
        return change_level(
            customer_id=customer.pk,
            level_code=data["level"].code,
            reason=data["reason"],
            actor=request.user,
        )

    def customer_change_message(self, result) -> str:
        return gettext("The tier changed from %(old)s to %(new)s.") % {
            "old": self.from_display(result),
            "new": self.to_display(result),
        }


@admin.register(BenefitUsage)
class BenefitUsageAdmin(ReadOnlyAdminMixin, CustomerRecordsAdmin):
    list_display = (
        "used_at",
        "customer_no",
        "customer_name",
        "benefit",
        "value",
        "order",
        "note",
        "actor",
        "reversed_at",
    )
    list_display_links = ("used_at",)
    list_filter = ("benefit__level",)
    list_select_related = ("customer", "benefit", "order", "actor")
    customer_ordering = ("-used_at", "-id")  # benefit_usage_customer_idx
    fields = ("customer", "benefit", "order", "value", "note", "actor", "used_at", "reversed_at")
