"""Closing an import: the ImportRecord's counts, its error file, and the audit event."""

from django.core.files.base import ContentFile
from django.utils import timezone

from crm.audit import record_event
from customers.models import JobStatus
from customers.services.files import import_expiry


def finish_import_record(*, record, result, actor, extra: dict | None = None) -> None:
    """Store `result` (an ImportResult) on `record` and audit the import, counts only, no PII.
    `extra` adds figures of one kind of import to the audit summary."""
    record.status = JobStatus.FAILED if result.stopped else JobStatus.DONE
    record.total_rows = result.total_rows
    record.created_count = result.created
    record.updated_count = result.updated
    record.skipped_count = result.skipped
    record.failed_count = result.failed
    record.message = result.message
    record.finished_at = timezone.now()
    if result.error_file is not None:
        suffix = "xlsx" if record.file_name.lower().endswith(".xlsx") else "csv"
        record.error_file.save(
            f"import-{record.pk}-errors.{suffix}", ContentFile(result.error_file), save=False
        )
        record.expires_at = import_expiry()
    record.save()
    result.record = record
    record_event(
        action="import",
        actor=actor,
        obj=record,
        summary={
            "kind": record.kind,
            "rows": result.total_rows,
            "created": result.created,
            "updated": result.updated,
            "skipped": result.skipped,
            "failed": result.failed,
            "stopped": result.stopped,
            "options": {k: v for k, v in record.options.items() if k != "mapping"},
            **(extra or {}),
        },
    )
