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

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from crm.access_log import register_read
from crm.admin_base import (
    SERVICE_ERRORS,
    EstimatedCountAdmin,
    ServiceRefused,
    ServiceSaveAdmin,
    is_unfiltered,
)
from customers import services
from customers.admin.actions import add_tags, archive_selected, change_status, remove_tags
from customers.admin.addresses import AddressInline, CustomerNoteInline, save_addresses, save_notes
from customers.admin.changelist import (
    RegisterDateFilter,
    StatusFilter,
    TagFilter,
    estimated_live_customers,
)
from customers.admin.communications import interactions_context
from customers.admin.exports import export_urls
from customers.admin.forms import (
    CustomerAdminForm,
)
from customers.admin.imports import import_urls
from customers.models import (
    Customer,
    CustomerNote,
)
from customers.panels import customer_panels
from customers.pii_access import (
    RevealContext,
    can_reveal,
    record_reveal,
    reveal_rows,
    shown_email,
    shown_phone,
)
from customers.selectors import (
    customer_orders,
)

ORDERS_PER_PAGE = 20


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
class CustomerAdmin(ServiceSaveAdmin, EstimatedCountAdmin, SimpleHistoryAdmin):
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
    VERIFICATION = {
        "fields": ("verification_password", "change_reason"),
        "description": _(
            "Changing the phone number or e-mail needs your own password. "
            "The reason is kept in the customer's history."
        ),
    }
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
        (_("Re-verification and history"), VERIFICATION),
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

    def count_estimate(self, request, queryset):
        return estimated_live_customers if is_unfiltered(request) else None

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        if request.method == "GET":
            # Evaluated here once; the template reuses the cached rows.
            rows = list(changelist.result_list)
            register_read(customer_ids=[customer.pk for customer in rows])
            reveal_rows(request.user, rows, context=RevealContext.ADMIN_LIST)
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
        if obj is None:
            return self.add_fieldsets
        if not request.user.has_perm(services.CHANGE_PERMISSION):
            # A tag-only editor changes no phone or e-mail, so needs no password field.
            return [fieldset for fieldset in self.fieldsets if fieldset[1] is not self.VERIFICATION]
        return super().get_fieldsets(request, obj)

    def has_change_permission(self, request, obj=None):
        # A tag-only editor (marketing) opens the form to change the tags, and only them.
        return super().has_change_permission(request, obj) or request.user.has_perm(
            services.TAG_PERMISSION
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            # A chosen customer number is allowed on creation (spec 2.1.1, 可自定义的客户编号).
            return [f for f in self.readonly_fields if f != "customer_no"]
        if not request.user.has_perm(services.CHANGE_PERMISSION):
            return [*self.readonly_fields, *services.UPDATABLE_FIELDS]
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
        if obj is not None:
            register_read(customer_ids=[obj.pk])
        if obj is not None and request.method == "GET" and can_reveal(request.user):
            record_reveal(actor=request.user, customers=[obj], context=RevealContext.ADMIN_DETAIL)
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
        if customer is not None:
            register_read(customer_ids=[customer.pk])
        if customer is not None and can_reveal(request.user):
            record_reveal(
                actor=request.user, customers=[customer], context=RevealContext.ADMIN_HISTORY
            )
        return super().render_history_view(request, template, context, **kwargs)
