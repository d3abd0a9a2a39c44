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
from membership.admin.forms import EnrollForm, ReasonForm
from membership.admin.records import (
    ENROLL_PERMISSIONS,
    CustomerRecordsAdmin,
)
from membership.models import (
    Membership,
    MembershipStatus,
)
from membership.services.enrollment import cancel_membership, enroll

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
    cancelled = 0
    for membership in queryset.filter(status=MembershipStatus.ACTIVE):
        try:
            cancel_membership(
                membership=membership, reason=form.cleaned_data["reason"], actor=request.user
            )
        except SERVICE_ERRORS as error:
            # Ended meanwhile (the nightly expiry, another staff member): say so, go on.
            modeladmin.message_user(request, f"{membership}: {error}", messages.WARNING)
        else:
            cancelled += 1
    modeladmin.message_user(
        request,
        ngettext("%(count)d membership cancelled.", "%(count)d memberships cancelled.", cancelled)
        % {"count": cancelled},
        messages.SUCCESS,
    )
    return None


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
    actions = (cancel_selected,)
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

    def has_add_permission(self, request):
        return request.user.has_perms(ENROLL_PERMISSIONS)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_cancel_permission(self, request):
        return request.user.has_perm("membership.change_membership")

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
