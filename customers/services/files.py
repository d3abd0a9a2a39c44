"""The files of exports and imports (spec 3.3): who may download them, the audited download,
their expiry, and the nightly purge.

Every such file holds personal data, so each is encrypted at rest (crm.file_vault), kept
EXPORT_FILE_RETENTION_DAYS or IMPORT_FILE_RETENTION_DAYS, and handed out only through
download_export / download_error_file, which check the caller, refuse an expired file with 410
and write a `download` audit event.
"""

from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event
from crm.errors import BusinessError, NotAllowed, NotFound
from crm.file_vault import Download, encrypted_storage, plain_copy
from crm.jobs import job_run
from customers.exports.writers import CONTENT_TYPES
from customers.imports.errorfile import masked_error_file
from customers.models import ExportRecord, ImportRecord, JobStatus
from customers.pii_access import can_reveal

# Downloads of files other staff members wrote (managers): without it, only one's own.
DOWNLOAD_ANY_PERMISSION = "customers.download_any_file"
# Who may list every export may learn that one exists, and is told 403 rather than 404.
VIEW_EXPORTS_PERMISSION = "customers.view_exportrecord"
UPLOADS = "imports/uploads"
PURGE_JOB = "customers.purge_expired_files"


class FileExpired(BusinessError):
    status = 410
    code = "file_expired"


class NoFile(NotFound):
    default_message = _("This has no file yet; poll its status.")


def export_expiry() -> datetime:
    return timezone.now() + timedelta(days=settings.EXPORT_FILE_RETENTION_DAYS)


def import_expiry() -> datetime:
    return timezone.now() + timedelta(days=settings.IMPORT_FILE_RETENTION_DAYS)


def may_download_export(user, record: ExportRecord) -> bool:
    """Its owner; another staff member with customers.download_any_file, and for an unmasked
    file the reveal permission too."""
    if record.actor_id == user.pk:
        return True
    return user.has_perm(DOWNLOAD_ANY_PERMISSION) and (record.masked or can_reveal(user))


def may_download_error_file(user, record: ImportRecord) -> bool:
    """The importer, or a holder of customers.download_any_file (it is masked for those who
    may not reveal)."""
    return record.actor_id == user.pk or user.has_perm(DOWNLOAD_ANY_PERMISSION)


def download_export(user, record: ExportRecord) -> Download:
    """The export's file for `user`: raises NotFound (404) to whom may neither download nor list
    it, NotAllowed (403), NoFile (404) or FileExpired (410); audits the download."""
    if not may_download_export(user, record):
        if record.actor_id != user.pk and not user.has_perm(VIEW_EXPORTS_PERMISSION):
            # Who may not even list it learns nothing of it, as GET /exports/{id} answers.
            raise NotFound(_("No export with this id."))
        raise NotAllowed(_("You may not download this export."))
    if record.status != JobStatus.DONE:
        raise NoFile()
    again = _("Export again to get a new file.")
    _check_kept(record.file, record.expires_at, again)
    opened = _open(record.file.name, again)
    _audit_download(user, record, kind="export", masked=record.masked)
    return Download(
        filename=Path(record.file.name).name,
        content_type=CONTENT_TYPES[record.format],
        file=opened,
    )


def download_error_file(user, record: ImportRecord) -> Download:
    """The import's rows with errors for `user`, masked unless `user` may reveal: raises
    NotAllowed, NoFile or FileExpired; audits the download."""
    if not may_download_error_file(user, record):
        raise NotAllowed(_("You may not download the errors of this import."))
    if not record.error_file and record.expires_at is None:
        raise NoFile(_("This import has no rows with errors."))
    again = _("Import the file again to get them.")
    _check_kept(record.error_file, record.expires_at, again)
    name = record.error_file.name
    masked = not can_reveal(user)
    content_type = CONTENT_TYPES["xlsx" if name.endswith(".xlsx") else "csv"]
    if not masked:
        opened = _open(name, again)
        _audit_download(user, record, kind="import_errors", masked=masked)
        return Download(Path(name).name, content_type, file=opened)
    try:
        with plain_copy(name, suffix=Path(name).suffix) as path:
            content = masked_error_file(path, name, record.options.get("mapping", {}))
    except FileNotFoundError:
        raise NoFile(_("This file is missing. %(again)s") % {"again": again}) from None
    _audit_download(user, record, kind="import_errors", masked=masked)
    return Download(Path(name).name, content_type, content=content)


def is_expired(expires_at: datetime | None) -> bool:
    return expires_at is not None and expires_at <= timezone.now()


def _check_kept(file, expires_at, again) -> None:
    # Refused from the moment of expiry, whether or not the nightly purge has run yet.
    if is_expired(expires_at):
        raise FileExpired(
            _("This file expired on %(when)s and was deleted. %(again)s")
            % {
                "when": date_format(timezone.localtime(expires_at), "DATETIME_FORMAT"),
                "again": again,
            }
        )
    if not file:
        raise NoFile(_("This file is missing. %(again)s") % {"again": again})


def _open(name: str, again) -> File:
    """The stored file, opened before the download is audited: a file gone from the disk is
    the "no file" 404, and no download event for a file nobody got."""
    try:
        return encrypted_storage().open(name)
    except FileNotFoundError:
        raise NoFile(_("This file is missing. %(again)s") % {"again": again}) from None


def _audit_download(user, record, *, kind: str, masked: bool) -> None:
    record_event(
        action="download",
        actor=user,
        obj=record,
        summary={"file": kind, "masked": masked, "owner": record.actor_id},
    )


def purge_expired_files(*, now: datetime | None = None):
    """The nightly purge: deletes the export and error files past their expiry and the uploads
    abandoned between the import steps for longer than IMPORT_FILE_RETENTION_DAYS. The records
    stay, without their file. Logged as a JobRun with the counts; safe to re-run."""
    now = now or timezone.now()
    with job_run(PURGE_JOB) as run:
        run.counts = {
            "exports": _purge(ExportRecord, "file", now),
            "error_files": _purge(ImportRecord, "error_file", now),
            "uploads": _purge_uploads(now - timedelta(days=settings.IMPORT_FILE_RETENTION_DAYS)),
        }
    return run


def _purge(model, field: str, now: datetime) -> int:
    storage = encrypted_storage()
    expired = model.objects.filter(expires_at__lte=now).exclude(**{field: ""})
    purged = 0
    for pk, name in expired.values_list("pk", field).iterator():
        storage.delete(name)
        # The file first, then the row: a crash between them leaves a row whose file is gone,
        # which the next run clears, never a file no row points to.
        model.objects.filter(pk=pk).update(**{field: ""})
        purged += 1
    return purged


def _purge_uploads(cutoff: datetime) -> int:
    storage = encrypted_storage()
    if not storage.exists(UPLOADS):
        return 0
    purged = 0
    for name in storage.listdir(UPLOADS)[1]:
        stored = f"{UPLOADS}/{name}"
        if storage.get_modified_time(stored) < cutoff:
            storage.delete(stored)
            purged += 1
    return purged
