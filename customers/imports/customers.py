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
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from functools import partial

import psycopg
from django.db import IntegrityError, connection, transaction
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
    NULL,
    UPDATE_COLUMNS,
    copy_array,
    copy_row,
    copy_text,
    copy_value,
)
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
    customer_number,
)
from customers.services import tags_get_or_create

ON_DUPLICATE = ("skip", "update", "fail")
BATCH_SIZE = 5000
# A customer that someone else creates between an import's look-up and its COPY makes the COPY
# fail on a unique index; the import then runs again and finds that customer like any other.
ATTEMPTS = 2
UPDATES = "customer_import_updates"


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
    checks = _Checks(on_duplicate)
    rejected = {}
    total = None
    reason = gettext("Imported from %(file)s") % {"file": table.name}
    writing = nullcontext() if dry_run else _Writer(actor=actor, now=now, reason=reason[:100])
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


class _Checks:
    """What each valid row becomes: a new customer, an update of an existing one, a skip, or a
    failure (a repeat of an earlier row, an existing customer with on_duplicate="fail", an
    e-mail or customer number of another customer). Counts what it decides."""

    def __init__(self, on_duplicate):
        self.on_duplicate = on_duplicate
        self.seen = {"phone": {}, "email": {}, "customer_no": {}}
        # Translated once per file: the checks run for every row.
        self.messages = {
            "phone": gettext("The same phone number is in row %(row)s."),
            "email": gettext("The same e-mail is in row %(row)s."),
            "customer_no": gettext("The same customer number is in row %(row)s."),
            "exists": gettext("A customer with this phone number already exists."),
            "email_taken": gettext("This e-mail belongs to another customer."),
            "number_taken": gettext("This customer number is already taken; choose another one."),
        }
        self.creates = self.updates = self.skipped = self.duplicates = 0

    def first_occurrences(self, rows, errors) -> list:
        """The rows that repeat no earlier row of the file; the others' reasons go to `errors`."""
        phones, emails, numbers = self.seen["phone"], self.seen["email"], self.seen["customer_no"]
        fresh = []
        for row in rows:
            # None is never a key, so a row without e-mail or number repeats nothing there.
            if row.phone_index in phones or row.email_index in emails or row.customer_no in numbers:
                errors[row.row_no] = self._repeats(row)
                continue
            phones[row.phone_index] = row.row_no
            if row.email_index is not None:
                emails[row.email_index] = row.row_no
            if row.customer_no is not None:
                numbers[row.customer_no] = row.row_no
            fresh.append(row)
        return fresh

    def against_database(self, rows, errors) -> tuple[list, list]:
        """([new rows], [(customer id, row)] to update) of a batch's rows, looked up in the
        database; the reasons of the failed ones go to `errors`."""
        phones = _owners("phone_index", [row.phone_index for row in rows])
        emails = _owners("email_index", [row.email_index for row in rows if row.email_index])
        numbers = _owners("customer_no", [row.customer_no for row in rows if row.customer_no])
        creates, updates = [], []
        for row in rows:
            customer_id = phones.get(row.phone_index)
            if customer_id is not None:
                self.duplicates += 1
                if self.on_duplicate == "fail":
                    errors[row.row_no] = [self.messages["exists"]]
                    continue
                if self.on_duplicate == "skip":
                    self.skipped += 1
                    continue
            owner = emails.get(row.email_index)
            if owner is not None and owner != customer_id:
                errors[row.row_no] = [self.messages["email_taken"]]
            elif customer_id is None and row.customer_no in numbers:
                errors[row.row_no] = [self.messages["number_taken"]]
            elif customer_id is None:
                creates.append(row)
            else:
                updates.append((customer_id, row))
        self.creates += len(creates)
        self.updates += len(updates)
        return creates, updates

    def _repeats(self, row) -> list[str]:
        keys = {"phone": row.phone_index, "email": row.email_index, "customer_no": row.customer_no}
        return [
            self.messages[kind] % {"row": self.seen[kind][key]}
            for kind, key in keys.items()
            if key in self.seen[kind]
        ]


def _owners(column, keys) -> dict:
    """{value: customer id} of the customers whose `column` holds one of `keys`."""
    if not keys:
        return {}
    # One index probe per key: the LIMIT keeps the planner from flattening the subquery into a
    # join, which it would run as a scan of the whole table (5x slower at 100k customers, and
    # worse as the import grows the table). The keys go apart from the query, in binary:
    # spelled out as a literal, a batch's blind indexes cost more than the look-up itself.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            f"""
            SELECT k.key, c.id FROM unnest(%b) AS k(key)
            CROSS JOIN LATERAL (
                SELECT id FROM customers_customer WHERE {column} = k.key LIMIT 1
            ) c
            """,
            [keys],
            prepare=False,
        )
        return dict(cursor.fetchall())


CUSTOMER_COPY = ("name_grams", "id", "customer_no", *NEW_CUSTOMER_COLUMNS, "updated_at")
HISTORY_COPY = (
    "id",
    "customer_no",
    *NEW_CUSTOMER_COLUMNS,
    "history_id",
    "history_date",
    "history_change_reason",
    "history_type",
    "history_user_id",
)
LINK_COPY = ("id", "created_at", "customer_id", "tag_id")
LINK_HISTORY_COPY = ("id", "created_at", "customer_id", "history_id", "tag_id")
HISTORY_COLUMNS = (
    "id, customer_no, name, phone, phone_index, phone_last4, email, email_index, gender, "
    "birthday, avatar, level, points, total_spent, order_count, avg_order_value, "
    "first_order_date, last_order_date, register_date, status, source, erased_at, created_at"
)


class _Writer:
    """Writes batch by batch under one savepoint. New customers, their tag links, their
    creation history and its tag snapshot go by COPY, with ids taken beforehand from the
    tables' sequences; updates go through a temporary table, set-based, as the batch edit
    does.

    A batch's COPYs run in a thread while this process checks and formats the next batch, so
    that the database, the slowest stage, seldom waits for Python. The thread is then the only
    user of the connection: `wait()` comes before any other statement.
    """

    def __init__(self, *, actor, now, reason):
        self.now = now
        self.reason = reason
        self.user_id = actor.pk if actor is not None else None
        self.history = "\t".join(
            [
                now.isoformat(),
                copy_text(reason),
                "+",
                NULL if self.user_id is None else str(self.user_id),
            ]
        )
        self.tag_ids: dict[str, str] = {}
        self.created = self.updated = 0
        self.updates_table = False
        self.copier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-copy")
        self.copying = None
        self.pending = []

    def __enter__(self):
        self.savepoint = transaction.savepoint()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_get_serial_sequence('customers_customer', 'id'), "
                "pg_get_serial_sequence('customers_historicalcustomer', 'history_id'), "
                "pg_get_serial_sequence('customers_customertag', 'id')"
            )
            self.sequences = cursor.fetchone()
        return self

    def __exit__(self, *exc_info):
        # After an error too, the connection must be free before the transaction rolls back.
        self.copier.shutdown(wait=True)

    def wait(self) -> None:
        """Returns once the COPYs under way are written, raising their error if any."""
        if self.copying is not None:
            copying, self.copying = self.copying, None
            with connection.wrap_database_errors:
                copying.result()

    def discard(self) -> None:
        """Rolls back everything written: the import stops."""
        self.wait()
        self.pending = []
        transaction.savepoint_rollback(self.savepoint)

    def write(self, creates, updates) -> None:
        names = {name for row in creates for name in row.tags}
        names.update(name for _id, row in updates for name in row.tags)
        missing = names.difference(self.tag_ids)
        if missing:
            # actor=None: the import itself creates the file's missing tags (as
            # tags_get_or_create documents for imports); the importer's permission was checked
            # to start it.
            self.tag_ids.update((tag.name, str(tag.pk)) for tag in tags_get_or_create(missing))
        with connection.cursor() as cursor:
            if updates:
                self._update(cursor, updates)
            ids = self._allocate(cursor.cursor, creates)
        # This batch is done with the connection: the previous one's COPYs may start.
        self._start(self.pending)
        self.pending = self._copies(creates, ids)
        self.created += len(creates)

    def finish(self) -> None:
        self.wait()
        self._start(self.pending)
        self.pending = []
        self.wait()
        if self.updates_table:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {UPDATES}")

    def _start(self, copies) -> None:
        if copies:
            self.copying = self.copier.submit(_copy_all, connection.connection, copies)

    def _allocate(self, cursor, rows) -> tuple[list[str], ...]:
        """Ids of the new customers, of their history rows and of their tag links, and their
        customer numbers (in a row's order for those without their own)."""
        customer_seq, history_seq, link_seq = self.sequences
        numbers = _series(
            cursor, "nextval('customer_no_seq')", sum(row.customer_no is None for row in rows)
        )
        return (
            _series(cursor, "nextval(%s::regclass)", len(rows), customer_seq),
            _series(cursor, "nextval(%s::regclass)", len(rows), history_seq),
            _series(cursor, "nextval(%s::regclass)", sum(len(row.tags) for row in rows), link_seq),
            [customer_number(int(number)) for number in numbers],
        )

    def _copies(self, rows, ids) -> list[tuple[str, tuple, list[str]]]:
        """(table, columns, lines) of the COPYs that write `rows` with the ids of _allocate."""
        customer_ids, history_ids, link_ids, numbers = ids
        numbers, link_ids = iter(numbers), iter(link_ids)
        now = self.now.isoformat()
        customers, history, links, link_history = [], [], [], []
        for row, customer_id, history_id in zip(rows, customer_ids, history_ids, strict=True):
            number = row.customer_no or next(numbers)
            customers.append(f"{row.grams}\t{customer_id}\t{number}\t{row.fields}\t{now}\n")
            history.append(f"{customer_id}\t{number}\t{row.fields}\t{history_id}\t{self.history}\n")
            for name in row.tags:
                link, tag_id = next(link_ids), self.tag_ids[name]
                links.append(f"{link}\t{now}\t{customer_id}\t{tag_id}\n")
                link_history.append(f"{link}\t{now}\t{customer_id}\t{history_id}\t{tag_id}\n")
        return [
            ("customers_customer", CUSTOMER_COPY, customers),
            ("customers_historicalcustomer", HISTORY_COPY, history),
            ("customers_customertag", LINK_COPY, links),
            ("customers_historicalcustomertag", LINK_HISTORY_COPY, link_history),
        ]

    def _update(self, cursor, rows) -> None:
        if self.updates_table:
            cursor.execute(f"TRUNCATE {UPDATES}")
        else:
            cursor.execute(
                f"""
                CREATE TEMP TABLE {UPDATES} (
                    customer_id bigint PRIMARY KEY,
                    name varchar(64) NOT NULL,
                    name_grams varchar(2)[] NOT NULL,
                    email text,
                    email_index bytea,
                    gender varchar(10),
                    birthday date,
                    source varchar(20),
                    tags text[] NOT NULL
                ) ON COMMIT DROP
                """
            )
            self.updates_table = True
        _copy(
            cursor.cursor,
            UPDATES,
            ("customer_id", *UPDATE_COLUMNS, "tags"),
            [f"{customer_id}\t{row.update}\t{copy_array(row.tags)}\n" for customer_id, row in rows],
        )
        params = {"now": self.now, "reason": self.reason, "user": self.user_id}
        cursor.execute(
            f"""
            UPDATE customers_customer c SET
                name = s.name, name_grams = s.name_grams,
                email = COALESCE(s.email, c.email),
                email_index = COALESCE(s.email_index, c.email_index),
                gender = COALESCE(s.gender, c.gender),
                birthday = COALESCE(s.birthday, c.birthday),
                source = COALESCE(s.source, c.source),
                updated_at = %(now)s
            FROM {UPDATES} s WHERE c.id = s.customer_id
            """,
            params,
        )
        self.updated += cursor.rowcount
        cursor.execute(
            f"""
            INSERT INTO customers_customertag (customer_id, tag_id, created_at)
            SELECT s.customer_id, t.id, %(now)s
            FROM {UPDATES} s CROSS JOIN LATERAL unnest(s.tags) AS n(name)
            JOIN customers_tag t ON t.name = n.name
            ON CONFLICT DO NOTHING
            """,
            params,
        )
        cursor.execute(
            f"""
            WITH history AS (
                INSERT INTO customers_historicalcustomer (
                    {HISTORY_COLUMNS}, history_date, history_change_reason, history_type,
                    history_user_id
                )
                SELECT {", ".join("c." + c.strip() for c in HISTORY_COLUMNS.split(","))},
                    %(now)s, %(reason)s, '~', %(user)s
                FROM {UPDATES} s JOIN customers_customer c ON c.id = s.customer_id
                RETURNING history_id, id
            )
            INSERT INTO customers_historicalcustomertag (
                id, created_at, customer_id, history_id, tag_id
            )
            SELECT ct.id, ct.created_at, ct.customer_id, history.history_id, ct.tag_id
            FROM history JOIN customers_customertag ct ON ct.customer_id = history.id
            """,
            params,
        )


def _series(cursor, expression, count, *params) -> list[str]:
    """`count` values of `expression` (a sequence's next value, a new customer number), as the
    text that COPY takes: one string from the database, not `count` rows to convert."""
    if not count:
        return []
    cursor.execute(
        f"SELECT string_agg(({expression})::text, ',') FROM generate_series(1, %s)",
        [*params, count],
    )
    return cursor.fetchone()[0].split(",")


def _copy_all(psycopg_connection, copies) -> None:
    """The writer's thread: runs the COPYs on the import's connection (which the main thread
    leaves alone meanwhile)."""
    with psycopg_connection.cursor() as cursor:
        for table, columns, lines in copies:
            _copy(cursor, table, columns, lines)


def _copy(cursor, table, columns, lines) -> None:
    if lines:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write("".join(lines))
