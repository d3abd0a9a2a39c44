"""The customer page's "Membership" tab, registered in customers.panels from
MembershipConfig.ready (the core does not import this app)."""

from django.urls import reverse

from membership.admin.records import (
    ADJUST_PERMISSION,
    CHANGE_LEVEL_PERMISSION,
    CUSTOMER_FILTER,
    ENROLL_PERMISSIONS,
    PANEL_CHANGES,
    PANEL_ENTRIES,
    tier_names,
)
from membership.models import (
    LevelChange,
    Membership,
    MembershipStatus,
    PointsEntry,
    TierGrace,
)
from membership.services.points import points_summary

# --- the customer page's membership tab ----------------------------------------------------


def membership_panel(request, customer) -> dict:
    """The "Membership" tab of the customer page: tier and active membership, points with those
    expiring soon, the latest ledger entries and tier changes, and links for staff who may act.
    A fixed number of queries, whatever the customer's history."""
    user = request.user
    names = tier_names()
    membership = (
        Membership.objects.filter(customer=customer, status=MembershipStatus.ACTIVE)
        .select_related("level")
        .first()
    )
    grace = TierGrace.objects.filter(customer=customer).first()
    data = {
        "tier_name": names.get(customer.level, customer.level),
        "membership": membership,
        "grace": grace,
        "grace_tier_name": grace and names.get(grace.level, grace.level),
        "summary": points_summary(customer),
    }
    if user.has_perm("membership.view_pointsentry"):
        data["entries"] = list(
            PointsEntry.objects.filter(customer=customer).only(
                "created_at", "kind", "delta", "balance_after", "reason", "expires_on"
            )[:PANEL_ENTRIES]
        )
        data["ledger_url"] = (
            reverse("admin:membership_pointsentry_changelist") + f"?{CUSTOMER_FILTER}={customer.pk}"
        )
    if user.has_perm("membership.view_levelchange"):
        changes = list(
            LevelChange.objects.filter(customer=customer).select_related("actor")[:PANEL_CHANGES]
        )
        for change in changes:
            change.from_name = names.get(change.from_level, change.from_level)
            change.to_name = names.get(change.to_level, change.to_level)
        data["changes"] = changes
        data["changes_url"] = (
            reverse("admin:membership_levelchange_changelist") + f"?{CUSTOMER_FILTER}={customer.pk}"
        )
    if user.has_perm(ADJUST_PERMISSION):
        data["adjust_url"] = reverse("admin:membership_pointsentry_adjust", args=[customer.pk])
    if user.has_perm(CHANGE_LEVEL_PERMISSION):
        data["change_tier_url"] = reverse(
            "admin:membership_levelchange_change_tier", args=[customer.pk]
        )
    if membership is None and user.has_perms(ENROLL_PERMISSIONS):
        data["enroll_url"] = reverse("admin:membership_membership_add") + f"?customer={customer.pk}"
    return data
