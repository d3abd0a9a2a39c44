"""Exporting customers (spec 2.8.1): check, record, and write the file.

export_start checks the permissions, validates the format, fields and filters, creates the
ExportRecord and either writes the file at once (up to EXPORT_SYNC_LIMIT rows) or hands it to a
Celery task. export_run walks the chosen customers by id in batches (a keyset: constant cost at
any depth, nothing held in memory but one batch), writes the file, keeps progress and row count
on the record, and audits the export.
"""

import logging
import os
import tempfile

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event
from crm.errors import BusinessError, NotAllowed
from customers.exports.fields import FIELDS, PII_FIELDS, RowReader, headers, unknown_fields
from customers.exports.writers import WRITERS
from customers.filters import filter_data, filtered_customers
from customers.models import Customer, ExportFormat, ExportRecord, JobStatus
from customers.pii_access import can_reveal

EXPORT_PERMISSION = "customers.export_customer"
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
    default_message = _("You may not export unmasked phone numbers and e-mail addresses.")


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

    Phone and e-mail are masked unless `unmasked`, which needs the reveal permission and a
    reason. Raises ExportNotAllowed or UnmaskedExportNotAllowed (403), InvalidExport (400,
    naming the field at fault). Small exports are done when this returns; larger ones are
    pending, queued when the caller's transaction commits.
    """
    if not actor.has_perm(EXPORT_PERMISSION):
        raise ExportNotAllowed()
    reason = (reason or "").strip()
    if unmasked:
        if not can_reveal(actor):
            raise UnmaskedExportNotAllowed()
        if not reason:
            raise InvalidExport(
                _("Give a reason for an unmasked export."),
                fields={"reason": [_("A reason is required for an unmasked export.")]},
            )
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


def may_download(user, record: ExportRecord) -> bool:
    """Its owner, or a holder of customers.view_exportrecord; an unmasked file of someone else
    needs the reveal permission too."""
    if record.actor_id == user.pk:
        return True
    return user.has_perm(VIEW_ALL_PERMISSION) and (record.masked or can_reveal(user))


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
        "pii": sorted(PII_FIELDS & set(record.fields)),
        "reason": record.reason,
        "rows": record.row_count,
    }


def _set(record: ExportRecord, **values) -> None:
    for name, value in values.items():
        setattr(record, name, value)
    ExportRecord.objects.filter(pk=record.pk).update(**values)
