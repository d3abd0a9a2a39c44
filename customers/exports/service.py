"""Exporting customers (spec 2.8.1): check, record, and write the file.

export_start checks the permissions, validates the format, fields and filters, creates the
ExportRecord and either writes the file at once (up to EXPORT_SYNC_LIMIT rows) or hands it to a
Celery task. export_run walks the chosen customers by id in batches (a keyset: constant cost at
any depth, nothing held in memory but one batch), writes the file, keeps progress and row count
on the record, and audits the export. export_customer_pdf is one customer's detail sheet, by
the same rules. The file is encrypted at rest and expires (customers.services.files).
"""

import logging
import os
import tempfile

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event
from crm.errors import BusinessError, NotAllowed, NotFound
from customers.exports.customer_pdf import customer_pdf
from customers.exports.fields import FIELDS, PII_FIELDS, RowReader, headers, unknown_fields
from customers.exports.writers import WRITERS
from customers.filters import filter_data, filtered_customers
from customers.models import Customer, ExportFormat, ExportRecord, JobStatus
from customers.pii_access import RevealContext, can_reveal, record_reveal
from customers.selectors import customer_detail
from customers.services.files import export_expiry

EXPORT_PERMISSION = "customers.export_customer"
CUSTOMER_VIEW_PERMISSION = "customers.view_customer"
VIEW_ALL_PERMISSION = "customers.view_exportrecord"
BATCH_SIZE = 2000
# A PDF is laid out in memory, page by page: for more rows, CSV or XLSX.
PDF_MAX_ROWS = 5000

logger = logging.getLogger(__name__)


def sync_limit() -> int:
    """Exports of up to this many rows are written during the request; larger ones by a task."""
    return getattr(settings, "EXPORT_SYNC_LIMIT", 5000)


class ExportNotAllowed(NotAllowed):
    default_message = _("You may not export customers.")


class UnmaskedExportNotAllowed(NotAllowed):
    default_message = _("You may not export unmasked personal data.")


class InvalidExport(BusinessError):
    code = "invalid_export"


def export_start(
    *,
    actor,
    format: str,
    fields: list[str],
    filters: dict,
    unmasked: bool = False,
    reason: str = "",
) -> ExportRecord:
    """Record an export of the customers `filters` select (the list API's query parameters; an
    empty filter means every live customer), with `fields` in that order, in `format`.

    Every personal-data field (fields.PII_FIELDS) is masked unless `unmasked`, which needs the
    reveal permission and a reason. Raises ExportNotAllowed or UnmaskedExportNotAllowed (403),
    InvalidExport (400, naming the field at fault). Small exports are done when this returns;
    larger ones are pending, queued when the caller's transaction commits.
    """
    if not actor.has_perm(EXPORT_PERMISSION):
        raise ExportNotAllowed()
    reason = unmasked_reason(actor, unmasked=unmasked, reason=reason)
    if format not in ExportFormat.values:
        raise InvalidExport(
            fields={"format": [_("Choose one of: %s.") % ", ".join(ExportFormat.values)]}
        )
    fields = list(fields or [])
    unknown = unknown_fields(fields)
    if not fields or unknown or len(set(fields)) != len(fields):
        message = _("Choose fields, each once, among: %s.") % ", ".join(FIELDS)
        if unknown:
            message = _("Unknown fields: %(unknown)s. Valid fields: %(valid)s.") % {
                "unknown": ", ".join(unknown),
                "valid": ", ".join(FIELDS),
            }
        raise InvalidExport(message, fields={"fields": [message]})
    filters = normalized_filters(filters or {})
    total = export_queryset(filters).count()
    if format == ExportFormat.PDF and total > PDF_MAX_ROWS:
        raise InvalidExport(
            fields={
                "format": [
                    _(
                        "A PDF holds at most %(limit)s rows and this export has %(total)s; "
                        "choose CSV or XLSX or narrow the filters."
                    )
                    % {"limit": PDF_MAX_ROWS, "total": total}
                ]
            }
        )
    record = ExportRecord.objects.create(
        actor=actor,
        format=format,
        fields=fields,
        filters=filters,
        masked=not unmasked,
        reason=reason,
    )
    language = get_language()
    if total <= sync_limit():
        export_run(record.pk, language=language)
        record.refresh_from_db()
    else:
        from customers.tasks import export_customers

        transaction.on_commit(lambda: export_customers.delay(record.pk, language))
    return record


def unmasked_reason(actor, *, unmasked: bool, reason: str) -> str:
    """The export's reason, stripped; an unmasked export needs the reveal permission and one."""
    reason = (reason or "").strip()
    if not unmasked:
        return reason
    if not can_reveal(actor):
        raise UnmaskedExportNotAllowed()
    if not reason:
        raise InvalidExport(
            _("Give a reason for an unmasked export."),
            fields={"reason": [_("A reason is required for an unmasked export.")]},
        )
    return reason


def export_customer_pdf(
    *, actor, customer_id: int, unmasked: bool = False, reason: str = ""
) -> tuple[ExportRecord, bytes]:
    """One customer's detail as a PDF (spec 2.1.4), by the rules of any export: masked unless
    `unmasked` (the reveal permission and a reason; the reveal is audited), recorded in the
    export history with its file, and audited. Sections the actor may not read are left out.
    Returns the record and the PDF. Raises NotFound for an unknown customer."""
    if not actor.has_perm(CUSTOMER_VIEW_PERMISSION):
        raise ExportNotAllowed()
    reason = unmasked_reason(actor, unmasked=unmasked, reason=reason)
    try:
        customer = customer_detail(pk=customer_id)
    except Customer.DoesNotExist:
        raise NotFound(_("No customer with this id.")) from None
    sections = {
        "addresses": actor.has_perm("customers.view_address"),
        "orders": actor.has_perm("customers.view_order"),
        "communications": actor.has_perm("customers.view_communication"),
    }
    content = customer_pdf(
        customer,
        reveal=unmasked,
        show_addresses=sections["addresses"],
        show_orders=sections["orders"],
        show_communications=sections["communications"],
    )
    record = ExportRecord(
        actor=actor,
        format=ExportFormat.PDF,
        fields=["profile", *(name for name, shown in sections.items() if shown)],
        masked=not unmasked,
        reason=reason,
        customer=customer,
        status=JobStatus.DONE,
        progress=100,
        row_count=1,
        finished_at=timezone.now(),
        expires_at=export_expiry(),
    )
    name = f"customer-{customer.customer_no}-{timezone.localtime():%Y%m%d-%H%M%S}.pdf"
    # Written before the rows and deleted when they fail: the nightly purge finds files only
    # through their records, so a file left by a rolled-back record would stay for good.
    record.file.save(name, ContentFile(content), save=False)
    try:
        with transaction.atomic():
            if unmasked:
                record_reveal(actor=actor, customers=[customer], context=RevealContext.API_PDF)
            record.save()
            record_event(action="export", actor=actor, obj=record, summary=audit_summary(record))
    except BaseException:
        record.file.storage.delete(record.file.name)
        raise
    return record, content


def normalized_filters(filters: dict) -> dict:
    """The filters as CustomerFilter reads them (customers.filters.filter_data): raises
    InvalidExport for an unknown filter or a bad value."""
    try:
        return filter_data(filters, field="filters")
    except ValidationError as error:
        raise InvalidExport(error.messages[0], fields={"filters": error.messages}) from None


def export_queryset(filters: dict):
    """The customers `filters` (normalized) select, in id order for the keyset walk."""
    return filtered_customers(filters, Customer.objects.all()).order_by("pk")


def visible_exports(user):
    """The caller's own exports; every export for holders of customers.view_exportrecord."""
    records = ExportRecord.objects.select_related("actor")
    if user.has_perm(VIEW_ALL_PERMISSION):
        return records
    return records.filter(actor=user)


def export_run(record_id: int, *, language: str | None = None) -> ExportRecord:
    """Write the file of a pending export. Progress and the row count are saved after each
    batch (visible to pollers when this runs outside a transaction, as in a worker); on an
    error the record is marked failed with the message, and the error is logged."""
    record = ExportRecord.objects.get(pk=record_id)
    # Claimed by one conditional UPDATE: a task delivered twice writes the file once.
    claimed = ExportRecord.objects.filter(pk=record_id, status=JobStatus.PENDING).update(
        status=JobStatus.RUNNING, progress=0
    )
    if not claimed:
        return record
    with translation.override(language or settings.LANGUAGE_CODE):
        record.status, record.progress = JobStatus.RUNNING, 0
        try:
            _write(record)
        except Exception as error:
            logger.exception("Export %s failed", record.pk)
            _set(
                record,
                status=JobStatus.FAILED,
                error=str(error)[:2000],
                finished_at=timezone.now(),
            )
    return record


def _write(record: ExportRecord) -> None:
    queryset = export_queryset(record.filters)
    total = queryset.count()
    reader = RowReader(record.fields, masked=record.masked)
    written = 0

    def batches():
        nonlocal written
        last_id = 0
        while True:
            batch = list(queryset.filter(pk__gt=last_id).values_list(*reader.columns)[:BATCH_SIZE])
            if not batch:
                return
            last_id = batch[-1][0]
            yield reader.rows(batch)
            written += len(batch)
            progress = min(99, written * 100 // total) if total else 99
            _set(record, progress=progress, row_count=written)

    title = _g("Customers") + f" {timezone.localtime():%Y-%m-%d %H:%M}"
    handle, path = tempfile.mkstemp(suffix=f".{record.format}")
    os.close(handle)
    try:
        WRITERS[record.format](path, headers=headers(record.fields), batches=batches(), title=title)
        with transaction.atomic(), open(path, "rb") as file:
            name = f"customers-{record.pk}-{timezone.localtime():%Y%m%d-%H%M%S}.{record.format}"
            record.file.save(name, File(file), save=False)
            _set(
                record,
                file=record.file.name,
                expires_at=export_expiry(),
                status=JobStatus.DONE,
                progress=100,
                row_count=written,
                finished_at=timezone.now(),
            )
            record_event(
                action="export",
                actor=record.actor,
                obj=record,
                summary=audit_summary(record),
            )
    finally:
        os.unlink(path)


def audit_summary(record: ExportRecord) -> dict:
    """What was exported, without personal data: a search term may be a phone or an e-mail."""
    filters = dict(record.filters)
    if filters.get("search"):
        filters["search"] = "***"
    return {
        "format": record.format,
        "fields": record.fields,
        "filters": filters,
        "masked": record.masked,
        "customer": record.customer_id,
        "pii": sorted(PII_FIELDS & set(record.fields)),
        "reason": record.reason,
        "rows": record.row_count,
    }


def _set(record: ExportRecord, **values) -> None:
    for name, value in values.items():
        setattr(record, name, value)
    ExportRecord.objects.filter(pk=record.pk).update(**values)
