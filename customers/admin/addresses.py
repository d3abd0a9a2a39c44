"""Tags and addresses: their own screens, and the address and note inlines of the customer page.
Every address and note write goes through customers.services (default address, audit)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from crm.admin_audit import AuditedModelAdmin
from crm.admin_base import (
    CustomerReadsAdmin,
    EstimatedCountAdmin,
    ServiceSaveAdmin,
    call_service,
)
from customers import services
from customers.admin.forms import (
    AddressForm,
    AddressInlineFormSet,
    mask_text,
)
from customers.models import (
    Address,
    CustomerNote,
    CustomerTag,
    Tag,
)
from customers.pii_access import RevealContext, can_reveal, reveal_rows

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


@admin.register(CustomerTag)
class CustomerTagAdmin(CustomerReadsAdmin, EstimatedCountAdmin):
    """Who carries which tag, set by whom (staff, or a tag rule and how sure it is): read only,
    since tags change on the customer's page, by the API and by the rules."""

    list_display = ("customer", "tag", "source", "confidence", "rule_id", "created_at")
    list_filter = ("source", "tag")
    list_select_related = ("customer", "tag")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    ordering = ("-id",)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("customers.view_customer")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Address)
class AddressAdmin(CustomerReadsAdmin, ServiceSaveAdmin, EstimatedCountAdmin, SimpleHistoryAdmin):
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

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        if request.method == "GET":
            reveal_rows(
                request.user,
                list(changelist.result_list),
                context=RevealContext.ADMIN_ADDRESSES,
                customer_of=lambda address: address.customer,
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
