"""Communication records and follow-ups (spec 2.5.4): the list of one's due follow-ups, the
record form, and the customer page's interactions tab."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import IS_POPUP_VAR
from django.contrib.admin.widgets import AdminSplitDateTime
from django.contrib.auth import get_user_model
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from crm.admin_base import (
    SERVICE_ERRORS,
    CustomerReadsAdmin,
    ServiceErrorsForm,
    ServiceSaveAdmin,
    action_confirmation,
    call_service,
    service_error_messages,
)
from crm.errors import BusinessError
from customers.models import (
    Communication,
)
from customers.selectors import (
    OPEN_FOLLOW_UP,
    customer_communications,
    follow_up_window,
)
from customers.services import communications, follow_ups

COMMUNICATIONS_SHOWN = 50
TEAM_OVERDUE = "team_overdue"


# --- communications (spec 2.5.4) -----------------------------------------------------------


def interactions_context(request, customer) -> dict:
    """The customer page's interactions tab: the last COMMUNICATIONS_SHOWN communications, newest
    first (one query), a link to all of them and one to record a new one."""
    if not request.user.has_perm("customers.view_communication"):
        return {"communications": None}
    shown = list(customer_communications(customer_id=customer.pk)[: COMMUNICATIONS_SHOWN + 1])
    context = {
        "communications": shown[:COMMUNICATIONS_SHOWN],
        "communications_more": len(shown) > COMMUNICATIONS_SHOWN,
        "communications_url": reverse("admin:customers_communication_changelist")
        + f"?customer__id__exact={customer.pk}&follow_up=all",
    }
    if request.user.has_perm("customers.add_communication"):
        context["communication_add_url"] = (
            reverse("admin:customers_communication_add") + f"?customer={customer.pk}"
        )
    return context


class FollowUpFilter(admin.SimpleListFilter):
    """The current user's open follow-ups by due time, the team's overdue ones (for those who
    may take them over), or every record. Without a choice the list shows the user's follow-ups
    due by the end of today, overdue ones included."""

    title = _("my open follow-ups")
    parameter_name = "follow_up"
    default = "by_today"

    def lookups(self, request, model_admin):
        lookups = [
            ("by_today", _("Due by the end of today")),
            ("overdue", _("Overdue")),
            ("today", _("Due today")),
            ("week", _("Due within 7 days")),
        ]
        if request.user.has_perm(follow_ups.CHANGE_PERMISSION):
            lookups.append((TEAM_OVERDUE, _("The team's overdue follow-ups")))
        return [*lookups, ("all", _("All communications"))]

    def chosen(self) -> str:
        value = self.value()
        return value if value in dict(self.lookup_choices) else self.default

    def queryset(self, request, queryset):
        chosen = self.chosen()
        if chosen == "all":
            return queryset
        if chosen == TEAM_OVERDUE:
            return queryset.filter(OPEN_FOLLOW_UP, follow_up_window("overdue"))
        return queryset.filter(
            OPEN_FOLLOW_UP, follow_up_window(chosen), follow_up_owner=request.user
        )

    def choices(self, changelist):
        # No Django "All" entry: "all communications" is one of the choices, the default another.
        chosen = self.chosen()
        for value, label in self.lookup_choices:
            yield {
                "selected": value == chosen,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


@admin.action(description=_("Mark follow-up done"))
def mark_follow_up_done(modeladmin, request, queryset):
    done = refused = 0
    for communication in queryset.filter(OPEN_FOLLOW_UP):
        try:
            follow_ups.follow_up_mark_done(communication=communication, actor=request.user)
        except BusinessError:
            refused += 1
        else:
            done += 1
    modeladmin.message_user(
        request,
        ngettext("%(count)d follow-up marked done.", "%(count)d follow-ups marked done.", done)
        % {"count": done},
        messages.SUCCESS,
    )
    if refused:
        modeladmin.message_user(
            request,
            ngettext(
                "%(count)d follow-up is someone else's and was left open.",
                "%(count)d follow-ups are someone else's and were left open.",
                refused,
            )
            % {"count": refused},
            messages.WARNING,
        )


class FollowUpChangeForm(forms.Form):
    owner = forms.ModelChoiceField(
        label=_("new owner"),
        queryset=get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .order_by("username"),
        required=False,
        help_text=_("Leave empty to keep each follow-up's owner."),
    )
    follow_up_at = forms.SplitDateTimeField(
        label=_("new follow-up time"),
        widget=AdminSplitDateTime,
        required=False,
        help_text=_("Leave empty to keep each follow-up's time."),
    )
    reason = forms.CharField(label=_("reason"), max_length=200, required=False)

    def clean(self):
        data = super().clean()
        if not data.get("owner") and not data.get("follow_up_at"):
            raise forms.ValidationError(_("Choose a new owner, a new time, or both."))
        return data


@admin.action(description=_("Reassign or reschedule follow-ups"))
def change_follow_ups(modeladmin, request, queryset):
    open_follow_ups = queryset.filter(OPEN_FOLLOW_UP)
    form = FollowUpChangeForm(request.POST if "apply" in request.POST else None)
    if not form.is_valid():
        return action_confirmation(
            modeladmin,
            request,
            template="admin/customers/communication/follow_up_action.html",
            title=_("Reassign or reschedule follow-ups"),
            form=form,
            count=open_follow_ups.count(),
        )
    changed, refusals = 0, []
    for communication in open_follow_ups:
        try:
            follow_ups.follow_up_change(
                communication=communication,
                actor=request.user,
                owner=form.cleaned_data["owner"],
                follow_up_at=form.cleaned_data["follow_up_at"],
                reason=form.cleaned_data["reason"],
            )
        except SERVICE_ERRORS as error:
            refusals.extend(service_error_messages(error))
        else:
            changed += 1
    modeladmin.message_user(
        request,
        ngettext("%(count)d follow-up changed.", "%(count)d follow-ups changed.", changed)
        % {"count": changed},
        messages.SUCCESS,
    )
    for message in sorted(set(refusals)):
        modeladmin.message_user(request, message, messages.WARNING)
    return None


class CommunicationAdminForm(ServiceErrorsForm):
    """The fields of a communication record; communications.communication_record checks them
    and its refusal comes back onto the fields (ServiceSaveAdmin)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "occurred_at" in self.fields:
            field = self.fields["occurred_at"]
            field.required = False
            field.help_text = _("When the conversation took place; empty means now.")

    class Meta:
        model = Communication
        fields = (
            "customer",
            "channel",
            "occurred_at",
            "content",
            "result",
            "order",
            "follow_up_at",
        )


@admin.register(Communication)
class CommunicationAdmin(CustomerReadsAdmin, ServiceSaveAdmin):
    """Communication records are added, not edited: there is no form to change one (the
    change page is read-only). Staff see their due follow-ups first and mark them done."""

    form = CommunicationAdminForm
    list_display = (
        "follow_up_at",
        "customer_display",
        "channel",
        "content_display",
        "result_display",
        "follow_up_owner",
        "follow_up_done_at",
        "occurred_at",
    )
    list_filter = (FollowUpFilter, "channel")
    list_select_related = ("customer", "follow_up_owner")
    autocomplete_fields = ("customer",)
    raw_id_fields = ("order",)
    actions = (mark_follow_up_done, change_follow_ups)
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    readonly_fields = ("staff", "follow_up_owner", "follow_up_done_at", "created_at")

    @admin.display(description=_("customer"))
    def customer_display(self, communication):
        customer = communication.customer
        return f"{customer.customer_no} {customer.name}"

    @admin.display(description=_("content"))
    def content_display(self, communication):
        return _shorten(communication.content)

    @admin.display(description=_("result"))
    def result_display(self, communication):
        return _shorten(communication.result)

    def get_ordering(self, request):
        # Follow-ups soonest first (the partial index's order); all records newest first.
        if request.GET.get(FollowUpFilter.parameter_name) == "all":
            return ("-occurred_at", "-id")
        return ("follow_up_at", "id")

    def get_fields(self, request, obj=None):
        if obj is None:
            return CommunicationAdminForm.Meta.fields
        return (*CommunicationAdminForm.Meta.fields, *self.readonly_fields)

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        recorded = call_service(
            communications.communication_record,
            customer=data["customer"],
            actor=request.user,
            channel=data["channel"],
            content=data["content"],
            result=data["result"],
            order=data.get("order"),
            follow_up_at=data.get("follow_up_at"),
            occurred_at=data.get("occurred_at"),
        )
        obj.__dict__.update(recorded.__dict__)

    def response_add(self, request, obj, post_url_continue=None):
        # Added from a customer's page: back to its interactions tab.
        customer_id = request.GET.get("customer")
        keep_going = {"_continue", "_addanother", IS_POPUP_VAR} & set(request.POST)
        if customer_id and str(obj.customer_id) == customer_id and not keep_going:
            self.message_user(request, _("The communication was recorded."), messages.SUCCESS)
            url = reverse("admin:customers_customer_change", args=[obj.customer_id])
            return HttpResponseRedirect(url + "#tab-interactions")
        return super().response_add(request, obj, post_url_continue)

    def delete_model(self, request, obj):
        communications.communication_delete(communication=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for communication in queryset:
            communications.communication_delete(communication=communication, actor=request.user)


def _shorten(text: str, length: int = 40) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"
