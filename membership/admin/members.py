"""The member list: enrolment and cancellation (spec 2.2.2), through
membership.services.enrollment."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from crm.admin_base import (
    SERVICE_ERRORS,
    ServiceSaveAdmin,
    action_confirmation,
    call_service,
)
from membership.admin.forms import EnrollForm, ReasonForm, RenewForm
from membership.admin.records import (
    ENROLL_PERMISSIONS,
    CustomerRecordsAdmin,
)
from membership.models import (
    Membership,
    MembershipPurchase,
    MembershipStatus,
)
from membership.services.enrollment import Payment, cancel_membership, enroll, renew_membership

# --- memberships ---------------------------------------------------------------------------


@admin.action(description=_("Cancel the selected active memberships"), permissions=["cancel"])
def cancel_selected(modeladmin, request, queryset):
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if not form.is_valid():
        return action_confirmation(
            modeladmin,
            request,
            template="admin/membership/membership/cancel_selected.html",
            title=_("Cancel memberships"),
            form=form,
            count=queryset.filter(status=MembershipStatus.ACTIVE).count(),
        )
    cancelled = _each_active(
        modeladmin,
        request,
        queryset,
        lambda membership: cancel_membership(
            membership=membership, reason=form.cleaned_data["reason"], actor=request.user
        ),
    )
    modeladmin.message_user(
        request,
        ngettext("%(count)d membership cancelled.", "%(count)d memberships cancelled.", cancelled)
        % {"count": cancelled},
        messages.SUCCESS,
    )
    return None


def _each_active(modeladmin, request, queryset, change) -> int:
    """Apply `change` to each active membership of `queryset`; how many it changed."""
    changed = 0
    for membership in queryset.filter(status=MembershipStatus.ACTIVE):
        try:
            change(membership)
        except SERVICE_ERRORS as error:
            # Ended meanwhile (the nightly expiry, another staff member): say so, go on.
            modeladmin.message_user(request, f"{membership}: {error}", messages.WARNING)
        else:
            changed += 1
    return changed


@admin.action(description=_("Renew the selected active memberships"), permissions=["renew"])
def renew_selected(modeladmin, request, queryset):
    active = queryset.filter(status=MembershipStatus.ACTIVE)
    count = active.count()
    form = RenewForm(request.POST if "apply" in request.POST else None)
    if form.is_valid() and form.cleaned_data["payment_reference"] and count > 1:
        form.add_error("payment_reference", _("A payment reference pays for one membership."))
    if not form.is_valid():
        return action_confirmation(
            modeladmin,
            request,
            template="admin/membership/membership/renew_selected.html",
            title=_("Renew memberships"),
            form=form,
            count=count,
        )
    data = form.cleaned_data
    renewed = _each_active(
        modeladmin,
        request,
        active,
        lambda membership: renew_membership(
            membership=membership,
            duration_days=data["duration_days"],
            method=data["method"],
            payment=Payment(reference=data["payment_reference"] or None),
            actor=request.user,
        ),
    )
    modeladmin.message_user(
        request,
        ngettext("%(count)d membership renewed.", "%(count)d memberships renewed.", renewed)
        % {"count": renewed},
        messages.SUCCESS,
    )
    return None


class PurchaseInline(admin.TabularInline):
    """What paid for the membership and its renewals; written only by the services."""

    model = MembershipPurchase
    extra = 0
    fields = ("created_at", "days", "order", "payment_reference", "actor")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Membership)
class MembershipAdmin(ServiceSaveAdmin, CustomerRecordsAdmin):
    """The member list. "Add" enrols (membership.services.enrollment.enroll); a membership is
    never edited or deleted here: it is cancelled, and ends by itself."""

    form = EnrollForm
    list_display = (
        "customer_no",
        "customer_name",
        "level",
        "start_date",
        "end_date",
        "status",
        "method",
        "source",
    )
    list_display_links = ("start_date",)
    # Each has choices or reads the small tiers table: no SELECT DISTINCT over memberships.
    list_filter = ("status", "level", "method")
    list_select_related = ("customer", "level")
    customer_ordering = ("-start_date", "-id")  # membership_customer_idx
    autocomplete_fields = ("customer",)
    actions = (cancel_selected, renew_selected)
    inlines = (PurchaseInline,)
    fields = (
        "customer",
        "level",
        ("start_date", "end_date"),
        "status",
        ("method", "source"),
        "actor",
        ("created_at", "updated_at"),
    )

    def get_fields(self, request, obj=None):
        return EnrollForm.Meta.fields if obj is None else self.fields

    def get_inlines(self, request, obj):
        # Enrolling records its purchase itself: the add form has no purchase rows.
        return () if obj is None else self.inlines

    def has_add_permission(self, request):
        return request.user.has_perms(ENROLL_PERMISSIONS)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_cancel_permission(self, request):
        return request.user.has_perm("membership.change_membership")

    def has_renew_permission(self, request):
        return request.user.has_perm("membership.enroll_member")

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        membership = call_service(
            enroll,
            customer_id=data["customer"].pk,
            level=data["level"],
            duration_days=data["duration_days"],
            method=data["method"],
            source=data.get("source") or "",
            actor=request.user,
        )
        # The admin goes on with `obj` (its log entry, message and redirect): the enrolment.
        # enroll has recorded the audit event.
        obj.__dict__.update(membership.__dict__)
