"""The points ledger with adjustments, and the points policy (spec 2.2.4)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from crm.admin_audit import AuditedModelAdmin, ReadOnlyAdminMixin
from membership.admin.forms import AdjustPointsForm
from membership.admin.records import (
    ADJUST_PERMISSION,
    CustomerRecordsAdmin,
)
from membership.models import (
    PointsEntry,
    PointsPolicy,
)
from membership.services.points import adjust_points

# --- points --------------------------------------------------------------------------------


@admin.register(PointsEntry)
class PointsEntryAdmin(ReadOnlyAdminMixin, CustomerRecordsAdmin):
    """The points ledger: rows are only added, by the services (orders, adjustments ...)."""

    list_display = (
        "created_at",
        "customer_no",
        "customer_name",
        "kind",
        "delta",
        "balance_after",
        "reason",
        "expires_on",
        "remaining",
        "order",
        "actor",
    )
    list_display_links = ("created_at",)
    list_filter = ("kind",)
    list_select_related = ("customer", "order", "actor")
    customer_ordering = ("-created_at", "-id")  # points_customer_idx
    customer_change = "adjust"
    customer_change_title = _("Adjust points")
    customer_change_permission = ADJUST_PERMISSION
    fields = (
        "customer",
        ("kind", "delta"),
        ("balance_after", "remaining", "expires_on"),
        "reason",
        "order",
        "actor",
        "idempotency_key",
        "created_at",
    )

    def customer_change_form(self, request, customer):
        return AdjustPointsForm(request.POST or None)

    def perform_customer_change(self, request, customer, data):
        return adjust_points(
            customer_id=customer.pk,
            adjustment=data["adjustment"],
            reason=data["reason"],
            actor=request.user,
            idempotency_key=data["idempotency_key"],
        )

    def customer_change_message(self, result) -> str:
        return gettext("Points adjusted by %(delta)+d; the balance is now %(balance)d.") % {
            "delta": result.entry.delta,
            "balance": result.entry.balance_after,
        }


@admin.register(PointsPolicy)
class PointsPolicyAdmin(AuditedModelAdmin, SimpleHistoryAdmin):
    """The one row of points rules (pk 1): edited, never added or deleted."""

    fields = (
        "earn_per_yuan",
        "expiry_months",
        ("points_per_yuan_redeemed", "max_redeem_share"),
        "expiring_soon_days",
        "updated_at",
    )
    readonly_fields = ("updated_at",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        # A list of one row: go straight to it.
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return redirect("admin:membership_pointspolicy_change", PointsPolicy.current().pk)

    def revert_disabled(self, request, obj=None):
        return True
