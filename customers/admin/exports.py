"""The admin's customer export page (spec 2.8.1) and the export history.

The customer list's "Export" button opens the page with the list's current filters; the page
asks for the format and fields (and, for those who may see them, unmasked phone and e-mail
with a reason), then calls customers.exports.service.export_start. The history lists every
export the user may see, with a download link once the file is ready.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from crm.errors import BusinessError
from customers.admin.downloads import send_file
from customers.exports.fields import DEFAULT_FIELDS, FIELDS
from customers.exports.service import (
    EXPORT_PERMISSION,
    export_queryset,
    export_start,
    normalized_filters,
    sync_limit,
    visible_exports,
)
from customers.models import Customer, CustomerStatus, ExportFormat, ExportRecord, JobStatus
from customers.pii_access import can_reveal
from customers.services.files import download_export, is_expired

TEMPLATE = "admin/customers/export.html"

# The customer changelist's query parameters and the list API's filter each one stands for.
CHANGELIST_FILTERS = {
    "q": "search",
    "level__exact": "level",
    "source__exact": "source",
    "status": "status",
    "tag": "tag",
    "register_from": "startDate",
    "register_to": "endDate",
}


class ExportForm(forms.Form):
    format = forms.ChoiceField(
        label=_("format"), choices=ExportFormat.choices, initial="xlsx", widget=forms.RadioSelect
    )
    fields = forms.MultipleChoiceField(
        label=_("fields"), initial=DEFAULT_FIELDS, widget=forms.CheckboxSelectMultiple
    )
    unmasked = forms.BooleanField(label=_("Unmasked phone and e-mail"), required=False)
    reason = forms.CharField(
        label=_("Reason (required for an unmasked export)"), max_length=500, required=False
    )
    filters = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, reveal: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fields"].choices = [
            (key, field.header_text()) for key, field in FIELDS.items()
        ]
        if not reveal:
            del self.fields["unmasked"]
            del self.fields["reason"]

    def clean_filters(self):
        try:
            filters = json.loads(self.cleaned_data["filters"] or "{}")
        except ValueError:
            raise forms.ValidationError(
                _("The filters are not valid; start from the list.")
            ) from None
        return filters if isinstance(filters, dict) else {}


def changelist_filters(params) -> dict:
    """The list API's filters for the customer changelist's query string."""
    filters = {}
    for param, name in CHANGELIST_FILTERS.items():
        value = params.get(param)
        if value:
            filters[name] = value
    if filters.get("status") == "all":
        filters["status"] = ",".join(CustomerStatus.values)
    return filters


def export_urls(model_admin):
    view = model_admin.admin_site.admin_view
    site = model_admin.admin_site
    return [path("export/", view(_guard(export_page, site)), name="customers_customer_export")]


def _guard(function, site):
    def wrapped(request, *args, **kwargs):
        if not request.user.has_perm(EXPORT_PERMISSION):
            raise PermissionDenied
        return function(request, *args, site=site, **kwargs)

    return wrapped


def export_page(request, site):
    reveal = can_reveal(request.user)
    filters = {} if request.method == "POST" else changelist_filters(request.GET)
    form = ExportForm(request.POST or None, reveal=reveal, initial={"filters": json.dumps(filters)})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        filters = data["filters"]
        try:
            record = export_start(
                actor=request.user,
                format=data["format"],
                fields=[key for key in FIELDS if key in data["fields"]],
                filters=filters,
                unmasked=data.get("unmasked", False),
                reason=data.get("reason", ""),
            )
        except BusinessError as error:
            form.add_error(None, _error_text(error))
        else:
            if record.status == JobStatus.PENDING:
                messages.info(
                    request,
                    _("The export runs in the background; this page shows its progress."),
                )
            return redirect("admin:customers_exportrecord_change", record.pk)
    elif request.method == "POST":
        filters = {}
    try:
        matching = export_queryset(normalized_filters(filters)).count()
    except BusinessError as error:
        form.add_error(None, _error_text(error))
        matching = None
    context = {
        **site.each_context(request),
        "opts": Customer._meta,
        "title": _("Export customers"),
        "form": form,
        "filters": filters,
        "matching": matching,
        "sync_limit": sync_limit(),
    }
    return TemplateResponse(request, TEMPLATE, context)


def _error_text(error: BusinessError) -> str:
    details = []
    for messages_ in error.fields.values():
        if isinstance(messages_, dict):
            messages_ = [m for value in messages_.values() for m in value]
        details.extend(str(m) for m in messages_)
    text = str(error.message)
    return " ".join([text, *[d for d in details if d != text]])


@admin.register(ExportRecord)
class ExportRecordAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "actor",
        "format",
        "row_count",
        "masked",
        "status",
        "progress",
        "download_link",
    )
    list_filter = ("format", "status", "masked")
    list_select_related = ("actor",)
    readonly_fields = (
        "actor",
        "format",
        "fields",
        "filters",
        "masked",
        "reason",
        "status",
        "progress",
        "row_count",
        "customer",
        "download_link",
        "error",
        "created_at",
        "finished_at",
        "expires_at",
    )
    fields = readonly_fields
    ordering = ("-created_at", "-id")
    show_full_result_count = False

    def get_queryset(self, request):
        return visible_exports(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        # Exporters see their own history even without customers.view_exportrecord.
        return super().has_view_permission(request, obj) or request.user.has_perm(EXPORT_PERMISSION)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    @admin.display(description=_("file"))
    def download_link(self, record):
        if is_expired(record.expires_at):
            return _("Expired")
        if record.status != JobStatus.DONE or not record.file:
            return "—"
        url = reverse("admin:customers_exportrecord_download", args=[record.pk])
        return format_html('<a href="{}">{}</a>', url, _("Download"))

    def get_urls(self):
        view = self.admin_site.admin_view(self.download_view)
        return [
            path("<int:record_id>/download/", view, name="customers_exportrecord_download"),
            *super().get_urls(),
        ]

    def download_view(self, request, record_id):
        record = get_object_or_404(visible_exports(request.user), pk=record_id)
        return send_file(
            request,
            lambda: download_export(request.user, record),
            back=reverse("admin:customers_exportrecord_changelist"),
        )
