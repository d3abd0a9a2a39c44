"""Staff screens for customers, tags and addresses (spec 2.1, 6.1, 6.2).

Built to stay fast at a million customers (DESIGN.md, "Scale"):
- search goes through `Customer.objects.search`, which routes the term to one index; Django's
  `search_fields` LIKE is never used (`search_fields` is set only so that the box shows);
- one count per page, and for the unfiltered list an estimate from `pg_class.reltuples`
  (`show_full_result_count = False`, no facets);
- every filter is over a field with choices or a small table, so no `SELECT DISTINCT`.

Writes go through customers.services, so the admin obeys the same rules as the API: create,
update (phone and e-mail changes ask for the staff member's password), batch edit, and "delete",
which archives.
"""

import dataclasses
from datetime import date
from functools import partial

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import IS_POPUP_VAR, PAGE_VAR
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import F
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from crm import admin_site
from crm.admin_audit import AuditedModelAdmin
from crm.admin_base import (
    SERVICE_ERRORS,
    EstimatingPaginator,
    ServiceErrorsForm,
    ServiceRefused,
    ServiceSaveAdmin,
    action_confirmation,
    call_service,
    estimated_table_rows,
    is_unfiltered,
    service_error_messages,
)
from crm.errors import BusinessError
from customers import communications, kpis, services
from customers.admin_export import export_urls
from customers.admin_forms import (
    AddressForm,
    AddressInlineFormSet,
    AddTagsForm,
    ChangeStatusForm,
    CustomerAdminForm,
    RemoveTagsForm,
    mask_text,
)
from customers.admin_import import import_urls
from customers.admin_panels import customer_panels
from customers.models import (
    Address,
    Communication,
    Customer,
    CustomerNote,
    CustomerStatus,
    Tag,
)
from customers.pii_access import can_reveal, record_reveal, shown_email, shown_phone
from customers.selectors import (
    OPEN_FOLLOW_UP,
    customer_communications,
    customer_orders,
    follow_up_window,
)

ORDERS_PER_PAGE = 20
COMMUNICATIONS_SHOWN = 50


# --- counting ------------------------------------------------------------------------------


def estimated_live_customers() -> int | None:
    """Customers but archived ones, estimated; None when the table is small enough to count."""
    rows = estimated_table_rows(Customer)
    if rows is None:
        return None
    # Archived customers are few and indexed by status: counting them exactly is cheap.
    archived = Customer.objects.filter(status=CustomerStatus.ARCHIVED).count()
    return max(rows - archived, 0)


# --- filters -------------------------------------------------------------------------------


class StatusFilter(admin.SimpleListFilter):
    """By status; archived customers (staff "deleted" them) are left out unless asked for."""

    title = _("status")
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request, model_admin):
        return [*CustomerStatus.choices, (self.ALL, _("All, archived included"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset.live()
        if value == self.ALL:
            return queryset
        if value not in CustomerStatus.values:
            raise IncorrectLookupParameters(value)
        return queryset.filter(status=value)

    def choices(self, changelist):
        choices = list(super().choices(changelist))
        # The first choice is the one without a value: here, every customer but archived ones.
        choices[0]["display"] = _("All but archived")
        return choices


class TagFilter(admin.SimpleListFilter):
    """By tag; tags are few (a small table), so listing them costs nothing."""

    title = _("tag")
    parameter_name = "tag"
    MAX_TAGS = 200

    def lookups(self, request, model_admin):
        names = Tag.objects.order_by("name").values_list("name", flat=True)[: self.MAX_TAGS]
        return [(name, name) for name in names]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.with_any_tag([self.value()])
        return queryset


class RegisterDateFilter(admin.ListFilter):
    """Registration date from / to (inclusive), entered as two dates."""

    title = _("registration date")
    template = "admin/customers/customer/date_range_filter.html"
    FROM = "register_from"
    TO = "register_to"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.dates = {}
        for name in (self.FROM, self.TO):
            if name in params:
                value = params.pop(name)[-1]
                self.used_parameters[name] = value
                if value:
                    try:
                        self.dates[name] = date.fromisoformat(value)
                    except ValueError:
                        raise IncorrectLookupParameters(name) from None

    def has_output(self):
        return True

    def expected_parameters(self):
        return [self.FROM, self.TO]

    def queryset(self, request, queryset):
        if not self.dates:
            return queryset
        return queryset.registered_between(self.dates.get(self.FROM), self.dates.get(self.TO))

    def choices(self, changelist):
        kept = [
            (key, value)
            for key, value in changelist.params.items()
            if key not in {self.FROM, self.TO, PAGE_VAR}
        ]
        yield {
            "selected": bool(self.dates),
            "from": self.used_parameters.get(self.FROM, ""),
            "to": self.used_parameters.get(self.TO, ""),
            "from_name": self.FROM,
            "to_name": self.TO,
            "hidden": kept,
            "clear_query_string": changelist.get_query_string(remove=[self.FROM, self.TO]),
        }


# --- actions -------------------------------------------------------------------------------


def _batch_action(modeladmin, request, queryset, *, form_class, title):
    """Show the action's form; when it is submitted valid, apply its changes (the form's
    `batch_changes()`) to the selected customers through the batch service."""
    if "apply" in request.POST:
        form = form_class(request.POST)
        if form.is_valid():
            try:
                updated = services.customers_batch_update(
                    actor=request.user,
                    customers=queryset,
                    reason=form.cleaned_data["reason"],
                    **form.batch_changes(),
                )
            except SERVICE_ERRORS as error:
                for message in service_error_messages(error):
                    modeladmin.message_user(request, message, messages.ERROR)
                return None
            modeladmin.message_user(
                request,
                ngettext("%(count)d customer changed.", "%(count)d customers changed.", updated)
                % {"count": updated},
                messages.SUCCESS,
            )
            return None
    else:
        form = form_class()
    return action_confirmation(
        modeladmin,
        request,
        template="admin/customers/customer/batch_action.html",
        title=title,
        form=form,
        count=queryset.count(),
    )


@admin.action(description=_("Add tags to the selected customers"), permissions=["batch_update"])
def add_tags(modeladmin, request, queryset):
    return _batch_action(modeladmin, request, queryset, form_class=AddTagsForm, title=_("Add tags"))


@admin.action(
    description=_("Remove tags from the selected customers"), permissions=["batch_update"]
)
def remove_tags(modeladmin, request, queryset):
    return _batch_action(
        modeladmin, request, queryset, form_class=RemoveTagsForm, title=_("Remove tags")
    )


@admin.action(
    description=_("Change the status of the selected customers"), permissions=["batch_update"]
)
def change_status(modeladmin, request, queryset):
    return _batch_action(
        modeladmin, request, queryset, form_class=ChangeStatusForm, title=_("Change status")
    )


@admin.action(description=_("Archive the selected customers"), permissions=["delete"])
def archive_selected(modeladmin, request, queryset):
    """Staff "delete": the records stay, with status archived. All of the selection or, past the
    batch limit, none of it, with the reason (the batch service, as the API's batch edit)."""
    try:
        archived = services.customers_batch_update(
            actor=request.user,
            customers=queryset,
            set_fields={"status": CustomerStatus.ARCHIVED},
            reason=gettext("Archived"),
        )
    except SERVICE_ERRORS as error:
        for message in service_error_messages(error):
            modeladmin.message_user(request, message, messages.ERROR)
        return
    modeladmin.message_user(
        request,
        ngettext("%(count)d customer archived.", "%(count)d customers archived.", archived)
        % {"count": archived},
        messages.SUCCESS,
    )


# --- inlines -------------------------------------------------------------------------------

ADDRESS_FIELDS = AddressForm.Meta.fields


def address_changes(form) -> list[str]:
    """The address fields the form changed."""
    return [name for name in form.changed_data if name in ADDRESS_FIELDS]


def save_addresses(formset, *, customer, actor) -> None:
    """Apply a saved (commit=False) address formset through the services the API calls:
    deleting the default promotes the oldest other address, a new default clears the old one."""
    for address in formset.deleted_objects:
        services.address_delete(address=address, actor=actor)
    # A new default, or a changed one, before the rest: the default it replaces has then been
    # cleared by the service, so unticking it on the form is no longer a change.
    for address in formset.new_objects:
        services.address_add(
            customer=customer,
            actor=actor,
            **{name: getattr(address, name) for name in ADDRESS_FIELDS},
        )
    for address, changed in sorted(formset.changed_objects, key=lambda c: not c[0].is_default):
        changes = {name: getattr(address, name) for name in changed if name in ADDRESS_FIELDS}
        services.address_update(address=address, actor=actor, changes=changes)


def save_notes(formset, *, customer, actor) -> None:
    """Apply a saved (commit=False) note formset: notes are added or deleted, never edited."""
    for note in formset.deleted_objects:
        services.note_delete(note=note, actor=actor)
    for note in formset.new_objects:
        services.note_add(customer=customer, actor=actor, body=note.body)


class AddressInline(admin.TabularInline):
    model = Address
    form = AddressForm
    formset = AddressInlineFormSet
    extra = 0
    fields = ADDRESS_FIELDS

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.reveal = can_reveal(request.user)
        return formset


class CustomerNoteInline(admin.TabularInline):
    """Notes are a record of what was said: they are added, not edited."""

    model = CustomerNote
    extra = 1
    fields = ("body", "author", "created_at")
    readonly_fields = ("author", "created_at")

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")


# --- history -------------------------------------------------------------------------------

HIDDEN_HISTORY_FIELDS = {"phone_index", "email_index", "phone_last4", "name_grams"}


class MaskedHistoryContextHelper(HistoricalRecordContextHelper):
    """History changes with phone and e-mail masked for users who may not see them."""

    def __init__(self, model, historical_record, *, reveal: bool):
        super().__init__(model, historical_record)
        self.reveal = reveal

    def context_for_delta_changes(self, delta):
        shown = [c for c in delta.changes if c.field not in HIDDEN_HISTORY_FIELDS]
        return super().context_for_delta_changes(dataclasses.replace(delta, changes=shown))

    def prepare_delta_change_value(self, change, value):
        if change.field == "phone":
            return shown_phone(value, reveal=self.reveal) or ""
        if change.field == "email":
            return shown_email(value, reveal=self.reveal) or ""
        return super().prepare_delta_change_value(change, value)


# --- customers -----------------------------------------------------------------------------


@admin.register(Customer)
class CustomerAdmin(ServiceSaveAdmin, SimpleHistoryAdmin):
    form = CustomerAdminForm
    list_display = (
        "customer_no",
        "name",
        "phone_display",
        "level",
        "total_spent_display",
        "order_count",
        "last_order_display",
        "status",
        "tag_list",
    )
    list_display_links = ("customer_no", "name")
    # Every filter has choices or reads a small table: no SELECT DISTINCT over customers.
    list_filter = (
        "level",
        StatusFilter,
        "source",
        TagFilter,
        RegisterDateFilter,
    )
    # Only so that Django shows the search box; get_search_results does the searching.
    search_fields = ("name",)
    search_help_text = _("Name, phone (full or last 4 digits), e-mail or customer number.")
    # Sorting only by indexed columns.
    sortable_by = ("customer_no", "total_spent_display", "order_count", "last_order_display")
    ordering = ("-created_at", "-id")
    list_per_page = 50
    list_max_show_all = 200
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    actions = (add_tags, remove_tags, change_status, archive_selected)
    inlines = (AddressInline, CustomerNoteInline)
    change_form_template = "admin/customers/customer/change_form.html"
    delete_confirmation_template = "admin/customers/customer/archive_confirmation.html"
    readonly_fields = (
        "customer_no",
        "level",
        "points",
        "total_spent",
        "order_count",
        "avg_order_value",
        "first_order_date",
        "last_order_date",
        "created_at",
        "updated_at",
    )
    add_fieldsets = (
        (
            None,
            {
                "fields": (
                    "customer_no",
                    ("name", "gender"),
                    ("phone", "email"),
                    ("birthday", "register_date"),
                    ("source", "avatar"),
                    "customer_tags",
                )
            },
        ),
    )
    fieldsets = (
        (
            _("Basic information"),
            {
                "fields": (
                    ("customer_no", "level"),
                    ("name", "gender"),
                    ("phone", "email"),
                    ("birthday", "register_date"),
                    ("source", "status"),
                    "avatar",
                    "customer_tags",
                )
            },
        ),
        (
            _("Consumption"),
            {
                "fields": (
                    ("total_spent", "order_count", "avg_order_value"),
                    ("points", "first_order_date", "last_order_date"),
                )
            },
        ),
        (
            _("Re-verification and history"),
            {
                "fields": ("verification_password", "change_reason"),
                "description": _(
                    "Changing the phone number or e-mail needs your own password. "
                    "The reason is kept in the customer's history."
                ),
            },
        ),
        (_("Record"), {"classes": ("collapse",), "fields": (("created_at", "updated_at"),)}),
    )

    # --- list ---

    @admin.display(description=_("phone"))
    def phone_display(self, customer):
        return shown_phone(customer.phone, reveal=getattr(customer, "pii_revealed", False)) or "-"

    @admin.display(description=_("total spent"), ordering="total_spent")
    def total_spent_display(self, customer):
        # Money as the spec shows it (¥10,000.00) in either language.
        return f"¥{customer.total_spent:,.2f}"

    # Most recent first on the first click: the order of the index on last_order_date.
    @admin.display(
        description=_("last order"),
        ordering=F("last_order_date").desc(nulls_last=True),
    )
    def last_order_display(self, customer):
        if customer.last_order_date is None:
            return None
        return timezone.localtime(customer.last_order_date).date()

    @admin.display(description=_("tags"))
    def tag_list(self, customer):
        return ", ".join(tag.name for tag in customer.tags.all())

    def get_urls(self):
        # The import and export pages (customers/admin_import.py, admin_export.py), before the
        # default <object_id>/ patterns.
        return import_urls(self) + export_urls(self) + super().get_urls()

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tags")

    def get_search_results(self, request, queryset, search_term):
        # The term goes to the one index that fits its shape (customers.querysets.search).
        return queryset.search(search_term), False

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        estimate = estimated_live_customers if is_unfiltered(request) else None
        return EstimatingPaginator(
            queryset, per_page, orphans, allow_empty_first_page, estimate=estimate
        )

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        if request.method == "GET" and can_reveal(request.user):
            # Evaluated here once; the template reuses the cached rows.
            rows = list(changelist.result_list)
            for customer in rows:
                customer.pii_revealed = True
            record_reveal(actor=request.user, customers=rows, context="admin_list")
        return changelist

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Customers are archived, never deleted: "archive selected" replaces "delete selected".
        actions.pop("delete_selected", None)
        return actions

    def has_batch_update_permission(self, request):
        return request.user.has_perm("customers.batch_update_customer")

    # --- change form ---

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            # A chosen customer number is allowed on creation (spec 2.1.1, 可自定义的客户编号).
            return [f for f in self.readonly_fields if f != "customer_no"]
        return self.readonly_fields

    def get_inlines(self, request, obj):
        # Addresses and notes are added once the customer exists.
        return self.inlines if obj is not None else ()

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user
        form.reveal = can_reveal(request.user)
        return form

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and request.method == "GET" and can_reveal(request.user):
            record_reveal(actor=request.user, customers=[obj], context="admin_detail")
        if obj is not None and request.user.has_perm("customers.view_order"):
            paginator = Paginator(customer_orders(customer_id=obj.pk), ORDERS_PER_PAGE)
            context["orders_page"] = paginator.get_page(request.GET.get("orders_page"))
        if obj is not None:
            context.update(interactions_context(request, obj))
            context["customer_panels"] = customer_panels(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        try:
            saved = self._update(request, obj, form) if change else self._create(request, form)
        except services.VerificationFailed as error:
            # The API's message names its JSON; the form has a password field for it.
            message = gettext("Enter your own password to change the phone number or e-mail.")
            raise ServiceRefused(ValidationError({"verification_password": [message]})) from error
        except SERVICE_ERRORS as error:
            raise ServiceRefused(error) from error
        # The admin goes on with `obj` (related objects, messages, redirect): make it the saved row.
        obj.__dict__.update(saved.__dict__)

    def _create(self, request, form):
        data = form.cleaned_data
        return services.customer_create(
            actor=request.user,
            name=data["name"],
            phone=data["phone"],
            email=data.get("email") or None,
            gender=data["gender"],
            birthday=data.get("birthday"),
            avatar=data.get("avatar") or "",
            source=data["source"],
            register_date=data.get("register_date"),
            customer_no=data.get("customer_no") or None,
            tags=form.tag_names(),
        )

    def _update(self, request, obj, form):
        # The form has already written the new values onto `obj`; the service compares against
        # the stored row, so it gets a fresh one.
        customer = Customer.objects.select_for_update().get(pk=obj.pk)
        tags = form.tag_names() if form.tags_changed() else None
        return services.customer_update(
            customer=customer,
            actor=request.user,
            changes=form.profile_changes(),
            tags=tags,
            verification_password=form.cleaned_data.get("verification_password") or None,
            reason=form.cleaned_data.get("change_reason") or "",
        )

    def save_related(self, request, form, formsets, change):
        # Tags were saved by the service (with history); only the inlines remain.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_formset(self, request, form, formset, change):
        # The same services as the API's address and note endpoints (default address, audit).
        formset.save(commit=False)
        try:
            if formset.model is CustomerNote:
                save_notes(formset, customer=form.instance, actor=request.user)
            else:
                save_addresses(formset, customer=form.instance, actor=request.user)
        except SERVICE_ERRORS as error:
            raise ServiceRefused(error) from error

    # --- delete = archive ---

    def get_deleted_objects(self, objs, request):
        # Archiving removes nothing, so there is no list of related objects to confirm.
        return [str(obj) for obj in objs], {}, set(), []

    def delete_model(self, request, obj):
        services.customer_archive(customer=obj, actor=request.user)

    def response_delete(self, request, obj_display, obj_id):
        response = super().response_delete(request, obj_display, obj_id)
        # Replace Django's "deleted successfully" with what happened.
        list(messages.get_messages(request))
        self.message_user(
            request,
            _("The customer “%(obj)s” was archived. Set its status to restore it.")
            % {"obj": obj_display},
            messages.SUCCESS,
        )
        return response

    # --- history ---

    history_list_display = ()

    def revert_disabled(self, request, obj=None):
        # Reverting would write past the services (no re-verification, no audit event).
        return True

    def get_historical_record_context_helper(self, request, historical_record):
        return MaskedHistoryContextHelper(
            self.model, historical_record, reveal=can_reveal(request.user)
        )

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def render_history_view(self, request, template, context, **kwargs):
        customer = context.get("object") or context.get("original")
        if customer is not None and can_reveal(request.user):
            record_reveal(actor=request.user, customers=[customer], context="admin_history")
        return super().render_history_view(request, template, context, **kwargs)


# --- tags and addresses --------------------------------------------------------------------


@admin.register(Tag)
class TagAdmin(AuditedModelAdmin, SimpleHistoryAdmin):
    list_display = ("name", "type", "weight", "parent")
    list_filter = ("type",)
    list_select_related = ("parent",)
    search_fields = ("name",)
    ordering = ("name",)
    fields = ("name", "type", "weight", "parent", "description")
    autocomplete_fields = ("parent",)


@admin.register(Address)
class AddressAdmin(ServiceSaveAdmin, SimpleHistoryAdmin):
    form = AddressForm
    list_display = (
        "customer",
        "label",
        "recipient",
        "province",
        "city",
        "district",
        "detail_display",
        "is_default",
    )
    list_filter = ("is_default",)
    list_select_related = ("customer",)
    autocomplete_fields = ("customer",)
    fields = ("customer", *ADDRESS_FIELDS)
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    ordering = ("-id",)

    @admin.display(description=_("street address"))
    def detail_display(self, address):
        return (
            address.detail if getattr(address, "pii_revealed", False) else mask_text(address.detail)
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.reveal = can_reveal(request.user)
        return form

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        estimate = partial(estimated_table_rows, Address) if is_unfiltered(request) else None
        return EstimatingPaginator(
            queryset, per_page, orphans, allow_empty_first_page, estimate=estimate
        )

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        if request.method == "GET" and can_reveal(request.user):
            rows = list(changelist.result_list)
            for address in rows:
                address.pii_revealed = True
            customers = {address.customer_id: address.customer for address in rows}
            record_reveal(
                actor=request.user, customers=customers.values(), context="admin_addresses"
            )
        return changelist

    def get_readonly_fields(self, request, obj=None):
        # An address stays with its customer; the service changes only the address itself.
        return ("customer",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        if change:
            changes = {name: getattr(obj, name) for name in address_changes(form)}
            saved = call_service(
                services.address_update, address=obj, actor=request.user, changes=changes
            )
        else:
            saved = call_service(
                services.address_add,
                customer=obj.customer,
                actor=request.user,
                **{name: getattr(obj, name) for name in ADDRESS_FIELDS},
            )
        obj.__dict__.update(saved.__dict__)

    def delete_model(self, request, obj):
        services.address_delete(address=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for address in queryset.select_related("customer"):
            services.address_delete(address=address, actor=request.user)


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
    """The current user's open follow-ups by due time, or every record. Without a choice the
    list shows the user's follow-ups due by the end of today, overdue ones included."""

    title = _("my open follow-ups")
    parameter_name = "follow_up"
    default = "by_today"

    def lookups(self, request, model_admin):
        return [
            ("by_today", _("Due by the end of today")),
            ("overdue", _("Overdue")),
            ("today", _("Due today")),
            ("week", _("Due within 7 days")),
            ("all", _("All communications")),
        ]

    def chosen(self) -> str:
        value = self.value()
        return value if value in dict(self.lookup_choices) else self.default

    def queryset(self, request, queryset):
        chosen = self.chosen()
        if chosen == "all":
            return queryset
        return queryset.filter(OPEN_FOLLOW_UP, follow_up_window(chosen), staff=request.user)

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
            communications.follow_up_mark_done(communication=communication, actor=request.user)
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


class CommunicationAdminForm(ServiceErrorsForm):
    """The fields of a communication record; communications.communication_record checks them
    and its refusal comes back onto the fields (ServiceSaveAdmin)."""

    class Meta:
        model = Communication
        fields = ("customer", "channel", "content", "result", "order", "follow_up_at")


@admin.register(Communication)
class CommunicationAdmin(ServiceSaveAdmin):
    """Communication records are added, not edited: there is no form to change one (the
    change page is read-only). Staff see their due follow-ups first and mark them done."""

    form = CommunicationAdminForm
    list_display = (
        "follow_up_at",
        "customer_display",
        "channel",
        "content_display",
        "result_display",
        "staff",
        "follow_up_done_at",
        "created_at",
    )
    list_filter = (FollowUpFilter, "channel")
    list_select_related = ("customer", "staff")
    autocomplete_fields = ("customer",)
    raw_id_fields = ("order",)
    actions = (mark_follow_up_done,)
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    readonly_fields = ("staff", "follow_up_done_at", "created_at")

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
            return ("-created_at", "-id")
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


# --- dashboard (spec 6.1) ------------------------------------------------------------------

KPI_CARDS = {
    "total": (_("Total customers"), _("vs. 30 days ago")),
    "new": (_("New customers"), _("last 30 days vs. the 30 before")),
    "vip": (_("VIP customers"), _("vs. 30 days ago")),
    "active_rate": (_("Active rate"), _("ordered in the last 90 days")),
}


def customer_kpi_cards(request) -> list[dict]:
    if not request.user.has_perm("customers.view_customer"):
        return []
    cards = []
    for kpi in kpis.customer_kpis():
        label, period = KPI_CARDS[kpi.key]
        cards.append(
            {
                "key": kpi.key,
                "label": label,
                "period": period,
                "value": kpi.value,
                "value_text": f"{kpi.value}%" if kpi.is_rate else f"{kpi.value:,}",
                "change": kpi.change,
                "change_text": _change_text(kpi),
                "direction": _direction(kpi.change),
                "is_rate": kpi.is_rate,
                "url": _kpi_url(kpi.key),
            }
        )
    return cards


def _change_text(kpi) -> str:
    if kpi.change is None:
        return ""
    amount = formats.number_format(abs(kpi.change), 1)
    if kpi.is_rate:
        return gettext("%(points)s pp") % {"points": amount}
    return f"{amount}%"


def _direction(change) -> str:
    if not change:
        return "flat"
    return "up" if change > 0 else "down"


def _kpi_url(key: str) -> str:
    url = reverse("admin:customers_customer_changelist")
    if key == "vip":
        return url + "?level__exact=vip&level__exact=svip"
    if key == "new":
        start = timezone.localdate() - kpis.PERIOD
        return url + f"?register_from={start.isoformat()}"
    return url


admin_site.install(admin.site)
admin_site.register_dashboard(customer_kpi_cards)
