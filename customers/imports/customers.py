"""The customer import service (spec 2.8.2), used by the admin import page and
`manage.py import_customers`.

1. The file is opened and its headers mapped; a wrong, empty or incomplete file is refused
   before anything is written (ImportFileError).
2. Rows are read in batches and validated in Python (customers.imports.validation) - in worker
   processes for a large file - with their ciphertexts, blind indexes, last four digits and
   name grams computed as Customer.refresh_search_columns does, and rendered as COPY text
   (customers.imports.copytext).
3. Batch by batch, in file order, one process checks the valid rows: a row repeating a phone,
   e-mail or customer number of an earlier row fails; the batch's phones, e-mails and customer
   numbers are looked up in the database (one query each), which makes each row a new
   customer, an update (on_duplicate="update"), a skip, or a failure (an existing customer
   with on_duplicate="fail", an e-mail or number of another customer).
4. The same batch is written at once while the workers validate the next ones: new customers,
   their tags and their creation history (`+`, with the tag snapshot) by COPY, with ids taken
   from the tables' sequences; updates set-based with their change history (`~`). All in one
   transaction with the audit event, the writes under a savepoint: when the import stops
   (duplicates with on_duplicate="fail", or any bad row with all_or_nothing) they are rolled
   back and the rest of the file is only checked, so that every bad row is reported.
5. The rejected rows come back as an error file in the input's format, stored on the
   ImportRecord with the counts.
"""

import multiprocessing
import threading
from collections import deque
from collections.abc import Callable
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from customers.imports.columns import (
    CUSTOMER_ALIASES,
    CUSTOMER_FIELDS,
    CUSTOMER_REQUIRED,
    accepted_headers,
    resolve_mapping,
)
from customers.imports.copytext import (
    NEW_CUSTOMER_COLUMNS,
    copy_row,
    copy_value,
)
from customers.imports.customer_checks import RowChecks
from customers.imports.customer_writer import BatchWriter
from customers.imports.errorfile import build_error_file
from customers.imports.reader import ImportFileError, TableFile
from customers.imports.records import finish_import_record
from customers.imports.validation import prepare_customer_rows
from customers.models import (
    Customer,
    CustomerSource,
    Gender,
    ImportRecord,
    JobStatus,
)

ON_DUPLICATE = ("skip", "update", "fail")
BATCH_SIZE = 5000
# A customer that someone else creates between an import's look-up and its COPY makes the COPY
# fail on a unique index; the import then runs again and finds that customer like any other.
ATTEMPTS = 2


@dataclass
class ImportResult:
    total_rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    stopped: bool = False
    message: str = ""
    errors: dict[int, list[str]] = field(default_factory=dict)
    error_file: bytes | None = None
    record: ImportRecord | None = None


def open_customer_file(path, *, name: str | None = None, mapping: dict | None = None):
    """(TableFile, {header: field}) for a readable file holding the required columns.

    Raises ImportFileError (nothing is written) for a file that is not CSV/XLSX, is empty, maps
    a header to an unknown field, or lacks a required column.
    """
    unknown = sorted({f for f in (mapping or {}).values() if f and f not in CUSTOMER_FIELDS})
    if unknown:
        raise ImportFileError(
            _("Unknown fields in the mapping: %(fields)s. Fields: %(known)s.")
            % {"fields": ", ".join(unknown), "known": ", ".join(CUSTOMER_FIELDS)}
        )
    table = TableFile(path, name)
    resolved = resolve_mapping(table.headers, CUSTOMER_ALIASES, mapping)
    table.require(
        resolved, CUSTOMER_REQUIRED, accepted_headers(CUSTOMER_ALIASES, CUSTOMER_REQUIRED)
    )
    table.require_rows()
    return table, resolved


def customers_import(
    *,
    actor,
    path,
    file_name: str | None = None,
    mapping: dict | None = None,
    on_duplicate: str = "skip",
    all_or_nothing: bool = False,
    dry_run: bool = False,
    workers: int = 1,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Import the customers of a CSV/XLSX file; see the module docstring for the steps.

    Raises ImportFileError before writing anything for a bad file. Otherwise returns the counts,
    the reasons per row number and the error file; unless `dry_run`, an ImportRecord holds them
    and the import is audited. A dry run validates and counts everything and writes nothing.
    """
    if on_duplicate not in ON_DUPLICATE:
        raise ValueError(on_duplicate)
    table, resolved = open_customer_file(path, name=file_name, mapping=mapping)
    options = {
        "mapping": resolved,
        "onDuplicate": on_duplicate,
        "allOrNothing": all_or_nothing,
    }
    record = None
    if not dry_run:
        record = ImportRecord.objects.create(
            kind=ImportRecord.Kind.CUSTOMERS,
            file_name=table.name,
            actor=actor,
            options=options,
            status=JobStatus.RUNNING,
        )
    run = partial(
        _run,
        table,
        resolved,
        actor=actor,
        record=record,
        on_duplicate=on_duplicate,
        all_or_nothing=all_or_nothing,
        dry_run=dry_run,
        workers=workers,
        batch_size=batch_size,
        progress=progress,
    )
    try:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return run()
            except IntegrityError:
                if attempt == ATTEMPTS:
                    raise
    except Exception as error:
        if record is not None:
            record.status = JobStatus.FAILED
            record.message = f"{type(error).__name__}: {error}"[:2000]
            record.finished_at = timezone.now()
            record.save(update_fields=["status", "message", "finished_at"])
        raise


def _run(
    table,
    mapping,
    *,
    actor,
    record,
    on_duplicate,
    all_or_nothing,
    dry_run,
    workers,
    batch_size,
    progress,
) -> ImportResult:
    columns = {field: table.headers.index(header) for header, field in mapping.items()}
    result = ImportResult()
    now = timezone.now()
    work = partial(
        _prepare,
        columns=columns,
        today=timezone.localdate(),
        constants=_new_customer_constants(now),
        updates=on_duplicate == "update",
    )
    checks = RowChecks(on_duplicate)
    rejected = {}
    total = None
    reason = gettext("Imported from %(file)s") % {"file": table.name}
    writing = nullcontext() if dry_run else BatchWriter(actor=actor, now=now, reason=reason[:100])
    batches = closing(_prepared_batches(table, work, workers, batch_size))
    with transaction.atomic(), writing as writer, batches as prepared:
        for batch, (rows, errors) in prepared:
            fresh = checks.first_occurrences(rows, errors)
            if writer is not None:
                writer.wait()
            creates, updates = checks.against_database(fresh, errors)
            result.errors.update(errors)
            if not result.stopped and (
                (on_duplicate == "fail" and checks.duplicates) or (all_or_nothing and result.errors)
            ):
                result.stopped = True
                if writer is not None:
                    writer.discard()
            if writer is not None and not result.stopped:
                writer.write(creates, updates)
            if errors:
                cells = dict(batch)
                rejected.update((row_no, cells[row_no]) for row_no in sorted(errors))
            result.total_rows += len(batch)
            if progress:
                if total is None:
                    # Counted once the first batch is under way, while the workers go on.
                    total = sum(1 for _row in table.rows())
                progress(result.total_rows, total)
        if writer is not None and not result.stopped:
            writer.finish()
        _conclude(result, checks, writer, on_duplicate, all_or_nothing)
        if result.errors:
            result.error_file = build_error_file(table, result.errors, rejected)
        if record is not None:
            finish_import_record(record=record, result=result, actor=actor)
        else:
            transaction.set_rollback(True)
    return result


def _conclude(result, checks, writer, on_duplicate, all_or_nothing) -> None:
    """The counts and the message of a finished import."""
    result.failed = len(result.errors)
    if on_duplicate == "fail" and checks.duplicates:
        result.message = gettext(
            "Nothing was imported: %(count)s rows are customers who already exist."
        ) % {"count": checks.duplicates}
    elif all_or_nothing and result.errors:
        result.message = gettext(
            "Nothing was imported: %(count)s rows have errors (all or nothing)."
        ) % {"count": result.failed}
    if result.stopped:
        result.skipped = result.total_rows - result.failed
        return
    if writer is None:
        result.created, result.updated = checks.creates, checks.updates
    else:
        result.created, result.updated = writer.created, writer.updated
    result.skipped = checks.skipped
    result.message = gettext(
        "%(total)s rows: %(created)s created, %(updated)s updated, %(skipped)s skipped, "
        "%(failed)s failed."
    ) % {
        "total": result.total_rows,
        "created": result.created,
        "updated": result.updated,
        "skipped": result.skipped,
        "failed": result.failed,
    }


def _new_customer_constants(now) -> str:
    """The COPY text of the columns every new customer of an import shares (avatar ..
    created_at in NEW_CUSTOMER_COLUMNS): the model's defaults and the import's time."""
    defaults = [
        copy_value(Customer._meta.get_field(name).get_default())
        for name in NEW_CUSTOMER_COLUMNS[NEW_CUSTOMER_COLUMNS.index("avatar") : -1]
    ]
    return "\t".join([*defaults, now.isoformat()])


def _prepare(batch, *, columns, today, constants, updates):
    """Worker side: validation and the rows' COPY text (pure Python)."""
    prepared, errors = prepare_customer_rows(batch, columns, today)
    defaults = {
        "gender": Gender.UNKNOWN.value,
        "register_date": today,
        "source": CustomerSource.IMPORT.value,
    }
    rows = [copy_row(p, defaults=defaults, constants=constants, updates=updates) for p in prepared]
    return rows, errors


def _prepared_batches(table, work, workers, batch_size):
    """(batch, work(batch)) for each batch of the file, in order."""
    batches = table.batches(batch_size)
    if workers <= 1:
        for batch in batches:
            yield batch, work(batch)
        return
    # The pool reads ahead at most two batches a worker: the database writes are slower than
    # the workers, and a large file must not pile up in memory waiting for them.
    slots = threading.Semaphore(2 * workers)
    finished = threading.Event()
    read = deque()

    def ahead():
        for batch in batches:
            slots.acquire()
            if finished.is_set():
                return
            read.append(batch)
            yield batch

    # fork: the workers inherit the settings and keys; they never touch the database.
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        try:
            for prepared in pool.imap(work, ahead()):
                yield read.popleft(), prepared
                slots.release()
        finally:
            # Wakes the pool's reader if it waits for a slot, so that the pool can close.
            finished.set()
            slots.release()
