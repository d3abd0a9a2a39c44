"""Staff screens for membership (spec 2.2, issue 5 "Admin"): the tier editor with its benefits,
the member list with enrolment and cancellation, the points ledger with adjustments, the tier
changes with manual changes, benefit usage, the points policy, and the customer page's
"Membership" tab (registered in customers.panels from MembershipConfig.ready: the core does not
import this app).

Every write goes through membership.services, so the admin obeys the rules of the API, and each
service records its audit event. Lists of per-customer records stay fast on large tables: one
customer's rows come from the (customer, time) indexes, the unfiltered lists in id order, and
counts of large tables are the planner's estimates.
"""

from functools import partial

from django.contrib import admin, messages
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from crm.admin_audit import AuditedModelAdmin, ReadOnlyAdminMixin
from crm.admin_base import (
    SERVICE_ERRORS,
    EstimatingPaginator,
    ServiceErrorsForm,
    ServiceRefused,
    ServiceSaveAdmin,
    action_confirmation,
    add_service_errors,
    planned_rows,
)
from customers.models import Customer
from membership.admin_forms import AdjustPointsForm, ChangeLevelForm, EnrollForm, ReasonForm
from membership.models import (
    Benefit,
    BenefitUsage,
    ConditionMatch,
    LevelChange,
    Membership,
    MembershipLevel,
    MembershipStatus,
    PointsEntry,
    PointsPolicy,
    TierGrace,
)
from membership.services.benefits import delete_benefit, save_benefit
from membership.services.enrollment import cancel_membership, enroll
from membership.services.levels import (
    TierInUse,
    change_level,
    delete_level,
    level_choices,
    save_level,
)
from membership.services.points import adjust_points, points_summary

CUSTOMER_FILTER = "customer__id__exact"
PANEL_ENTRIES = 10
PANEL_CHANGES = 5
ADJUST_PERMISSION = "membership.adjust_points"
CHANGE_LEVEL_PERMISSION = "membership.change_customer_level"
# Enrolling in the admin: the model's add permission (docs/roles.md) and the service's own.
ENROLL_PERMISSIONS = ("membership.add_membership", "membership.enroll_member")


# --- shared --------------------------------------------------------------------------------


def narrowed_to_customer(request) -> bool:
    """One customer's records: the list's filter by customer, or a search by customer number."""
    return bool(request.GET.get(CUSTOMER_FILTER) or request.GET.get(SEARCH_VAR, "").strip())


def customer_page_url(customer_id: int) -> str:
    return reverse("admin:customers_customer_change", args=[customer_id]) + "#tab-membership"


def tier_names() -> dict[str, str]:
    return dict(level_choices())


class CustomerRecordsAdmin(admin.ModelAdmin):
    """A list of per-customer rows. Sorted only in the order of an index: newest first by id,
    or, for one customer, by the (customer, time) index named in `customer_ordering`. The search
    box takes an exact customer number (one indexed lookup).

    A subclass may name the change that writes such rows for one customer (`customer_change`,
    e.g. "adjust"): a page of its own at adjust/<customer id>/ for those with
    `customer_change_permission`, offered on the list of one customer. The page shows
    `customer_change_form`, calls `perform_customer_change` (a service) and, when the service
    refuses, shows its message on the form.
    """

    customer_ordering: tuple[str, ...] = ()
    ordering = ("-id",)
    sortable_by = ()
    # Only so that the search box shows; get_search_results does the searching.
    search_fields = ("customer__customer_no",)
    search_help_text = _("Exact customer number, e.g. C00123.")
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    change_list_template = "admin/membership/customer_records_change_list.html"

    customer_change: str | None = None
    customer_change_title = None
    customer_change_permission: str | None = None

    @admin.display(description=_("customer number"))
    def customer_no(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:customers_customer_change", args=[obj.customer_id]),
            obj.customer.customer_no,
        )

    @admin.display(description=_("name"))
    def customer_name(self, obj):
        return obj.customer.name

    def get_ordering(self, request):
        return self.customer_ordering if narrowed_to_customer(request) else self.ordering

    def get_search_results(self, request, queryset, search_term):
        number = search_term.strip().upper()
        if not number:
            return queryset, False
        customer_id = Customer.objects.filter(customer_no=number).values_list("pk", flat=True)
        # Resolved first, so that the planner sees one customer id and takes its index.
        found = customer_id.first()
        return (queryset.filter(customer_id=found) if found else queryset.none()), False

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        estimate = None if narrowed_to_customer(request) else partial(planned_rows, queryset)
        return EstimatingPaginator(
            queryset, per_page, orphans, allow_empty_first_page, estimate=estimate
        )

    # --- the change of one customer's records ---

    def customer_change_url_name(self) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{self.customer_change}"

    def get_urls(self):
        urls = super().get_urls()
        if self.customer_change is None:
            return urls
        view = self.admin_site.admin_view(self.customer_change_view)
        route = f"{self.customer_change.replace('_', '-')}/<int:customer_id>/"
        return [path(route, view, name=self.customer_change_url_name()), *urls]

    def changelist_view(self, request, extra_context=None):
        context = dict(extra_context or {})
        customer_id = request.GET.get(CUSTOMER_FILTER, "")
        may_change = self.customer_change and request.user.has_perm(self.customer_change_permission)
        if may_change and customer_id.isdigit():
            context["customer_change_url"] = reverse(
                f"admin:{self.customer_change_url_name()}", args=[int(customer_id)]
            )
            context["customer_change_title"] = self.customer_change_title
        return super().changelist_view(request, context)

    def customer_change_view(self, request, customer_id):
        if not request.user.has_perm(self.customer_change_permission):
            raise PermissionDenied
        customer = get_object_or_404(
            Customer.objects.only("pk", "customer_no", "name", "level", "points"), pk=customer_id
        )
        form = self.customer_change_form(request, customer)
        if request.method == "POST" and form.is_valid():
            try:
                # A savepoint of its own: a refusal rolls back whatever the service wrote.
                with transaction.atomic():
                    result = self.perform_customer_change(request, customer, form.cleaned_data)
            except SERVICE_ERRORS as error:
                add_service_errors(form, error)
            else:
                messages.success(request, self.customer_change_message(result))
                return redirect(customer_page_url(customer.pk))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": self.customer_change_title,
            "form": form,
            "customer": customer,
            "tier_name": tier_names().get(customer.level, customer.level),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/membership/customer_action.html", context)

    def customer_change_form(self, request, customer):
        raise NotImplementedError

    def perform_customer_change(self, request, customer, data):
        raise NotImplementedError

    def customer_change_message(self, result) -> str:
        raise NotImplementedError


# --- tiers ---------------------------------------------------------------------------------


class BenefitInline(admin.TabularInline):
    model = Benefit
    extra = 0
    fields = (
        "kind",
        "value",
        "description",
        "description_en",
        "exclusive_group",
        "valid_from",
        "valid_until",
        "is_active",
        "sort_order",
    )


@admin.register(MembershipLevel)
class MembershipLevelAdmin(ServiceSaveAdmin, SimpleHistoryAdmin):
    form = ServiceErrorsForm
    list_display = (
        "icon_preview",
        "name",
        "name_en",
        "code",
        "sort_order",
        "conditions",
        "grace_days",
        "downgrade_to",
    )
    list_display_links = ("name",)
    list_select_related = ("downgrade_to",)
    ordering = ("sort_order",)
    inlines = (BenefitInline,)
    readonly_fields = ("icon_on_form",)
    fieldsets = (
        (None, {"fields": (("name", "name_en"), ("code", "sort_order"), ("icon", "icon_on_form"))}),
        (
            _("Upgrade conditions"),
            {
                "fields": (
                    ("condition_match", "window_days"),
                    ("min_spent", "min_orders", "min_points"),
                ),
                "description": _(
                    "Spend and orders count within the window; points are the current balance. "
                    "An empty threshold is not a condition; a tier without any is everyone's."
                ),
            },
        ),
        (
            _("Retention and downgrade"),
            {"fields": (("retain_min_spent", "retain_min_orders"), "grace_days", "downgrade_to")},
        ),
    )

    @admin.display(description=_("icon"))
    def icon_preview(self, level):
        if not level.icon:
            return "-"
        return format_html('<img src="{}" alt="" height="32">', level.icon.url)

    @admin.display(description=_("preview"))
    def icon_on_form(self, level):
        # The same picture, labelled apart from the upload field beside it.
        return self.icon_preview(level)

    @admin.display(description=_("upgrade conditions"))
    def conditions(self, level):
        parts = []
        if level.min_spent is not None:
            parts.append(gettext("spent ¥%(amount)s") % {"amount": f"{level.min_spent:,.2f}"})
        if level.min_orders is not None:
            parts.append(gettext("%(count)s orders") % {"count": level.min_orders})
        if level.min_points is not None:
            parts.append(gettext("%(count)s points") % {"count": level.min_points})
        if not parts:
            return gettext("none: every customer")
        any_of = level.condition_match == ConditionMatch.ANY
        text = (gettext(" or ") if any_of else gettext(" and ")).join(parts)
        if level.window_days:
            text = gettext("%(conditions)s within %(days)s days") % {
                "conditions": text,
                "days": level.window_days,
            }
        return text

    def get_actions(self, request):
        actions = super().get_actions(request)
        # One tier at a time, through delete_level, which refuses a tier in use.
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        try:
            save_level(level=obj, actor=request.user)
        except SERVICE_ERRORS as error:
            raise ServiceRefused(error) from error

    def save_formset(self, request, form, formset, change):
        for benefit in formset.save(commit=False):
            save_benefit(benefit=benefit, actor=request.user)
        for benefit in formset.deleted_objects:
            delete_benefit(benefit=benefit, actor=request.user)

    def delete_model(self, request, obj):
        delete_level(level=obj, actor=request.user)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except TierInUse as error:
            # The view's transaction has rolled back (its log entry with it): the tier stays.
            self.message_user(request, error.message, messages.ERROR)
            return redirect("admin:membership_membershiplevel_change", object_id)

    def revert_disabled(self, request, obj=None):
        # Reverting would write past save_level (its checks and its audit event).
        return True


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
        try:
            membership = enroll(
                customer_id=data["customer"].pk,
                level=data["level"],
                duration_days=data["duration_days"],
                method=data["method"],
                source=data.get("source") or "",
                actor=request.user,
            )
        except SERVICE_ERRORS as error:
            raise ServiceRefused(error) from error
        # The admin goes on with `obj` (its log entry, message and redirect): the enrolment.
        # enroll has recorded the audit event.
        obj.__dict__.update(membership.__dict__)


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
    )
    list_display_links = ("used_at",)
    list_filter = ("benefit__level",)
    list_select_related = ("customer", "benefit", "order", "actor")
    customer_ordering = ("-used_at", "-id")  # benefit_usage_customer_idx
    fields = ("customer", "benefit", "order", "value", "note", "actor", "used_at")


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
