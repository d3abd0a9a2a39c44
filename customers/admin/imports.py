"""The admin's customer import page (spec 2.8.2): upload, column mapping, preview, run, result.

Thin views over customers.imports.customers; the service validates and writes. The uploaded file
waits encrypted (crm.file_vault, imports/uploads/) between the steps, named in the session; each
step reads a plaintext copy that is deleted when the step ends, and the nightly purge deletes
uploads abandoned for IMPORT_FILE_RETENTION_DAYS.
"""

import uuid
from pathlib import Path

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from crm.encryption import blind_index_match, phone_index
from crm.file_vault import encrypted_storage, plain_copy
from crm.pii import normalize_phone
from customers.admin.downloads import send_file
from customers.imports.columns import (
    CUSTOMER_ALIASES,
    CUSTOMER_FIELDS,
    CUSTOMER_TEMPLATE_HEADERS,
    resolve_mapping,
)
from customers.imports.customers import customers_import, open_customer_file
from customers.imports.errorfile import template_file
from customers.imports.reader import ImportFileError, TableFile, file_format
from customers.imports.validation import prepare_customer_rows
from customers.models import Customer, ImportRecord
from customers.services.files import UPLOADS, download_error_file, is_expired

PERMISSION = "customers.import_customer"
SESSION_KEY = "customer_imports"
PREVIEW_ROWS = 20
TEMPLATE = "admin/customers/import.html"


class UploadForm(forms.Form):
    file = forms.FileField(label=_("CSV or XLSX file"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            file_format(upload.name)
        except ImportFileError as error:
            raise forms.ValidationError(str(error)) from None
        return upload


class MappingForm(forms.Form):
    on_duplicate = forms.ChoiceField(
        label=_("Customers who already exist (same phone)"),
        choices=[
            ("skip", _("Skip them")),
            ("update", _("Update their profile")),
            ("fail", _("Stop: import nothing")),
        ],
        initial="skip",
        widget=forms.RadioSelect,
    )
    all_or_nothing = forms.BooleanField(
        label=_("All or nothing: import nothing if any row has an error"), required=False
    )

    def __init__(self, *args, headers, mapping, **kwargs):
        super().__init__(*args, **kwargs)
        self.headers = headers
        choices = [("", _("(ignore)")), *CUSTOMER_FIELDS.items()]
        for index, header in enumerate(headers):
            self.fields[f"column_{index}"] = forms.ChoiceField(
                label=header, choices=choices, required=False, initial=mapping.get(header, "")
            )

    def column_fields(self):
        return [self[f"column_{index}"] for index in range(len(self.headers))]

    def clean(self):
        data = super().clean()
        chosen = [data.get(f"column_{i}") for i in range(len(self.headers))]
        repeated = sorted({f for f in chosen if f and chosen.count(f) > 1})
        if repeated:
            raise forms.ValidationError(
                _("Each field may come from one column only: %s.") % ", ".join(repeated)
            )
        return data

    def mapping(self) -> dict[str, str]:
        return {
            header: self.cleaned_data.get(f"column_{index}") or ""
            for index, header in enumerate(self.headers)
        }


def import_urls(model_admin):
    site = model_admin.admin_site
    view = site.admin_view
    return [
        path("import/", view(_guard(start, site)), name="customers_customer_import"),
        path(
            "import/template.<str:file_format>",
            view(_guard(template, site)),
            name="customers_customer_import_template",
        ),
        path(
            "import/<str:token>/",
            view(_guard(mapping_step, site)),
            name="customers_customer_import_mapping",
        ),
        path(
            "import/result/<int:record_id>/",
            view(_guard(result, site)),
            name="customers_customer_import_result",
        ),
        path(
            "import/result/<int:record_id>/errors/",
            view(_guard(error_file, site)),
            name="customers_customer_import_errors",
        ),
    ]


def _guard(function, site):
    def wrapped(request, *args, **kwargs):
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        return function(request, *args, site=site, **kwargs)

    return wrapped


def _context(request, site, **extra):
    return {
        **site.each_context(request),
        "opts": Customer._meta,
        "title": _("Import customers"),
        **extra,
    }


def start(request, site):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        token = uuid.uuid4().hex
        suffix = Path(upload.name).suffix.lower()
        stored = encrypted_storage().save(f"{UPLOADS}/{token}{suffix}", upload)
        try:
            # The type and emptiness now; the required columns once they are mapped.
            with plain_copy(stored, suffix=suffix) as copy:
                TableFile(copy, upload.name).require_rows()
        except ImportFileError as error:
            encrypted_storage().delete(stored)
            form.add_error("file", str(error))
        else:
            request.session.setdefault(SESSION_KEY, {})[token] = {
                "stored": stored,
                "name": upload.name,
            }
            request.session.modified = True
            return redirect("admin:customers_customer_import_mapping", token=token)
    return TemplateResponse(request, TEMPLATE, _context(request, site, step="upload", form=form))


def template(request, file_format, site):
    if file_format not in {"csv", "xlsx"}:
        raise Http404
    content_type = {
        "csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }[file_format]
    response = HttpResponse(
        template_file(CUSTOMER_TEMPLATE_HEADERS, file_format), content_type=content_type
    )
    response["Content-Disposition"] = f'attachment; filename="customers-template.{file_format}"'
    return response


def mapping_step(request, token, site):
    upload = request.session.get(SESSION_KEY, {}).get(token)
    if upload is None or not encrypted_storage().exists(upload["stored"]):
        messages.error(request, _("The uploaded file is gone; upload it again."))
        return redirect("admin:customers_customer_import")
    with plain_copy(upload["stored"], suffix=Path(upload["stored"]).suffix) as file_path:
        return _mapping_step(request, token, site, upload, file_path)


def _mapping_step(request, token, site, upload, file_path):
    table = TableFile(file_path, upload["name"])
    automatic = resolve_mapping(table.headers, CUSTOMER_ALIASES, None)
    form = MappingForm(request.POST or None, headers=table.headers, mapping=automatic)
    preview = None
    if request.method == "POST" and form.is_valid():
        try:
            if "run" in request.POST:
                outcome = customers_import(
                    actor=request.user,
                    path=file_path,
                    file_name=upload["name"],
                    mapping=form.mapping(),
                    on_duplicate=form.cleaned_data["on_duplicate"],
                    all_or_nothing=form.cleaned_data["all_or_nothing"],
                )
                encrypted_storage().delete(upload["stored"])
                request.session[SESSION_KEY].pop(token, None)
                request.session.modified = True
                return redirect(
                    "admin:customers_customer_import_result", record_id=outcome.record.pk
                )
            preview = _preview(file_path, upload["name"], form)
        except ImportFileError as error:
            form.add_error(None, str(error))
    return TemplateResponse(
        request,
        TEMPLATE,
        _context(
            request,
            site,
            step="mapping",
            form=form,
            file_name=upload["name"],
            preview=preview,
        ),
    )


def _preview(file_path, name, form) -> dict:
    """The first rows, as the import would see them, with each row's errors."""
    table, mapping = open_customer_file(file_path, name=name, mapping=form.mapping())
    columns = {field: table.headers.index(header) for header, field in mapping.items()}
    batch = next(table.batches(PREVIEW_ROWS), [])
    prepared, errors = prepare_customer_rows(batch, columns, timezone.localdate())
    # Either index column: during a blind-index re-index the hash may be in the second one.
    existing = {
        bytes(index)
        for pair in Customer.objects.filter(
            blind_index_match("phone_index", [p.phone_index for p in prepared])
        ).values_list("phone_index", "phone_index_next")
        for index in pair
        if index is not None
    }
    seen = {}
    for row in prepared:
        if row.phone_index in seen:
            errors[row.row_no] = [
                str(_("The same phone number is in row %(row)s.") % {"row": seen[row.phone_index]})
            ]
        seen.setdefault(row.phone_index, row.row_no)
    fields = [field for field in CUSTOMER_FIELDS if field in columns]
    rows = []
    for row_no, cells in batch:
        phone_cell = cells[columns["phone"]] if "phone" in columns else ""
        note = ""
        if row_no not in errors and _phone_index(phone_cell) in existing:
            note = str(_("Already a customer: %(action)s.") % {"action": _duplicate_label(form)})
        rows.append(
            {
                "row_no": row_no,
                "cells": [cells[columns[field]] for field in fields],
                "errors": errors.get(row_no, []),
                "note": note,
            }
        )
    return {
        "headers": [CUSTOMER_FIELDS[field] for field in fields],
        "rows": rows,
        "ignored": [header for header in table.headers if header not in mapping],
    }


def _phone_index(raw):
    try:
        return phone_index(normalize_phone(raw))
    except ValidationError:
        return None


def _duplicate_label(form):
    return dict(form.fields["on_duplicate"].choices)[form.cleaned_data["on_duplicate"]]


def result(request, record_id, site):
    record = get_object_or_404(ImportRecord, pk=record_id, kind=ImportRecord.Kind.CUSTOMERS)
    return TemplateResponse(
        request,
        TEMPLATE,
        _context(
            request,
            site,
            step="result",
            record=record,
            error_url=reverse("admin:customers_customer_import_errors", args=[record.pk])
            if record.error_file
            else "",
        ),
    )


def error_file(request, record_id, site):
    record = get_object_or_404(ImportRecord, pk=record_id)
    return send_file(
        request,
        lambda: download_error_file(request.user, record),
        back=reverse("admin:customers_importrecord_changelist"),
    )


@admin.register(ImportRecord)
class ImportRecordAdmin(admin.ModelAdmin):
    """Import history, read-only: who imported what, the counts and the file of bad rows."""

    list_display = (
        "created_at",
        "kind",
        "file_name",
        "actor",
        "status",
        "total_rows",
        "created_count",
        "updated_count",
        "skipped_count",
        "failed_count",
        "error_file_link",
    )
    list_filter = ("kind", "status")
    list_select_related = ("actor",)
    search_fields = ("file_name",)
    date_hierarchy = "created_at"
    exclude = ("error_file",)
    readonly_fields = ("error_file_link",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("rows with errors"))
    def error_file_link(self, record):
        # Through the permission-checked view: the file holds personal data.
        if is_expired(record.expires_at):
            return _("Expired")
        if not record.error_file:
            return "-"
        url = reverse("admin:customers_customer_import_errors", args=[record.pk])
        return format_html('<a href="{}">{}</a>', url, _("Download"))
