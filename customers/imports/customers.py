"""The customer import service (spec 2.8.2), used by the admin import page and
`manage.py import_customers`.

1. The file is opened and its headers mapped; a wrong, empty or incomplete file is refused
   before anything is written (ImportFileError).
2. Rows are read in batches and validated in Python (customers.imports.validation) - in worker
   processes for a large file - and their ciphertexts, blind indexes, last four digits and name
   grams computed as Customer.refresh_search_columns does. A later row repeating a phone, e-mail
   or customer number of an earlier row fails.
3. Valid rows go by COPY into a temporary staging table; duplicates against the database are
   found there with one join on the blind indexes.
4. Unless the import stops (duplicates with on_duplicate="fail", or any bad row with
   all_or_nothing), new customers are written with one INSERT ... SELECT (customer numbers from
   the column default), existing ones updated (on_duplicate="update") with one UPDATE, tags added,
   and creation/change history written in bulk - all in one transaction with the audit event.
5. The rejected rows come back as an error file in the input's format, stored on the
   ImportRecord with the counts.
"""

import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from django.db import connection, transaction
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
from customers.imports.errorfile import build_error_file
from customers.imports.reader import ImportFileError, TableFile
from customers.imports.records import finish_import_record
from customers.imports.validation import STAGING_COLUMNS, copy_line, prepare_customer_rows
from customers.models import CustomerSource, ImportRecord, JobStatus
from customers.services import tags_get_or_create

ON_DUPLICATE = ("skip", "update", "fail")
BATCH_SIZE = 5000
STAGING = "customer_import_staging"


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
    try:
        result = _run(
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
    except Exception as error:
        if record is not None:
            record.status = JobStatus.FAILED
            record.message = f"{type(error).__name__}: {error}"[:2000]
            record.finished_at = timezone.now()
            record.save(update_fields=["status", "message", "finished_at"])
        raise
    return result


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
    total = sum(1 for _row in table.rows()) if progress else 0
    result = ImportResult()
    now = timezone.now()
    with transaction.atomic():
        tags = _load_staging(table, columns, result, workers, batch_size, progress, total)
        duplicates = _mark_database_conflicts(on_duplicate, result)
        if on_duplicate == "fail" and duplicates:
            result.stopped = True
            result.message = gettext(
                "Nothing was imported: %(count)s rows are customers who already exist."
            ) % {"count": duplicates}
        elif all_or_nothing and result.errors:
            result.stopped = True
            result.message = gettext(
                "Nothing was imported: %(count)s rows have errors (all or nothing)."
            ) % {"count": len(result.errors)}
        counts = _action_counts()
        result.failed = len(result.errors)
        if result.stopped:
            result.skipped = result.total_rows - result.failed
        elif dry_run:
            result.created = counts.get("create", 0)
            result.updated = counts.get("update", 0)
            result.skipped = counts.get("skip", 0)
        else:
            reason = gettext("Imported from %(file)s") % {"file": table.name}
            _write(actor, tags, now, reason[:100], result, counts)
            result.skipped = counts.get("skip", 0)
        result.failed = len(result.errors)
        if not result.message:
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
        if result.errors:
            result.error_file = build_error_file(table, result.errors)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {STAGING}")
        if record is not None:
            finish_import_record(record=record, result=result, actor=actor)
        else:
            transaction.set_rollback(True)
    return result


def _prepare(batch, *, columns, today):
    """Worker side: validation and the staging table's COPY lines (pure Python)."""
    prepared, errors = prepare_customer_rows(batch, columns, today)
    rows = [
        (
            p.row_no,
            copy_line(p.row_no, p.values),
            p.phone_index,
            p.email_index,
            p.customer_no,
            p.tags,
        )
        for p in prepared
    ]
    return len(batch), rows, errors


def _prepared_batches(table, columns, workers, batch_size):
    work = partial(_prepare, columns=columns, today=timezone.localdate())
    batches = table.batches(batch_size)
    if workers <= 1:
        yield from map(work, batches)
        return
    # fork: the workers inherit the settings and keys; they never touch the database.
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from pool.imap(work, batches)


def _load_staging(table, columns, result, workers, batch_size, progress, total) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            CREATE TEMP TABLE {STAGING} (
                row_no integer PRIMARY KEY,
                name varchar(64) NOT NULL,
                name_grams varchar(2)[] NOT NULL,
                phone text NOT NULL,
                phone_index bytea NOT NULL,
                phone_last4 varchar(4) NOT NULL,
                email text,
                email_index bytea,
                gender varchar(10),
                birthday date,
                source varchar(20),
                register_date date,
                tags text[] NOT NULL,
                customer_no varchar(32),
                action varchar(10) NOT NULL DEFAULT 'create',
                customer_id bigint
            ) ON COMMIT DROP
            """
        )
        copy_sql = f"COPY {STAGING} (row_no, {', '.join(STAGING_COLUMNS)}) FROM STDIN"
        seen = {"phone": {}, "email": {}, "customer_no": {}}
        messages = {
            "phone": gettext("The same phone number is in row %(row)s."),
            "email": gettext("The same e-mail is in row %(row)s."),
            "customer_no": gettext("The same customer number is in row %(row)s."),
        }
        tags: set[str] = set()
        done = 0
        for count, rows, errors in _prepared_batches(table, columns, workers, batch_size):
            result.errors.update(errors)
            lines = []
            for row_no, line, phone_index, email_index, customer_no, row_tags in rows:
                reasons = _repeats(seen, messages, row_no, phone_index, email_index, customer_no)
                if reasons:
                    result.errors[row_no] = reasons
                    continue
                lines.append(line)
                tags.update(row_tags)
            if lines:
                with cursor.cursor.copy(copy_sql) as copy:
                    copy.write("".join(lines))
            done += count
            result.total_rows += count
            if progress:
                progress(done, total)
        cursor.execute(f"CREATE INDEX ON {STAGING} (phone_index)")
        cursor.execute(f"ANALYZE {STAGING}")
    return tags


def _repeats(seen, messages, row_no, phone_index, email_index, customer_no) -> list[str]:
    """Why this row repeats an earlier row of the file (`messages` are translated once per file:
    this runs for every row)."""
    keys = {"phone": phone_index, "email": email_index, "customer_no": customer_no}
    reasons = [
        messages[kind] % {"row": seen[kind][key]}
        for kind, key in keys.items()
        if key is not None and key in seen[kind]
    ]
    if not reasons:
        for kind, key in keys.items():
            if key is not None:
                seen[kind][key] = row_no
    return reasons


def _mark_database_conflicts(on_duplicate, result) -> int:
    """Set each staged row's action (create, update, skip, fail); returns how many rows are
    customers that already exist."""
    duplicate_action = {"skip": "skip", "update": "update", "fail": "fail"}[on_duplicate]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {STAGING} s SET customer_id = c.id, action = %s
            FROM customers_customer c WHERE c.phone_index = s.phone_index
            RETURNING s.row_no
            """,
            [duplicate_action],
        )
        duplicates = [row_no for (row_no,) in cursor.fetchall()]
        if on_duplicate == "fail":
            message = gettext("A customer with this phone number already exists.")
            for row_no in duplicates:
                result.errors[row_no] = [message]
        conflicts = [
            (
                f"""
                UPDATE {STAGING} s SET action = 'fail'
                FROM customers_customer c
                WHERE s.action IN ('create', 'update') AND c.email_index = s.email_index
                  AND c.id IS DISTINCT FROM s.customer_id
                RETURNING s.row_no
                """,
                gettext("This e-mail belongs to another customer."),
            ),
            (
                f"""
                UPDATE {STAGING} s SET action = 'fail'
                FROM customers_customer c
                WHERE s.action = 'create' AND c.customer_no = s.customer_no
                RETURNING s.row_no
                """,
                gettext("This customer number is already taken; choose another one."),
            ),
        ]
        for sql, message in conflicts:
            cursor.execute(sql)
            for (row_no,) in cursor.fetchall():
                result.errors.setdefault(row_no, []).append(message)
    return len(duplicates)


def _action_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT action, count(*) FROM {STAGING} GROUP BY action")
        return dict(cursor.fetchall())


HISTORY_COLUMNS = (
    "id, customer_no, name, phone, phone_index, phone_last4, email, email_index, gender, "
    "birthday, avatar, level, points, total_spent, order_count, avg_order_value, "
    "first_order_date, last_order_date, register_date, status, source, erased_at, created_at"
)


def _write(actor, tags, now, reason, result, counts) -> None:
    if tags:
        # actor=None: the import itself creates the file's missing tags (as tags_get_or_create
        # documents for imports); the importer's permission was checked to start it.
        tags_get_or_create(tags, actor=None)
    params = {
        "now": now,
        "today": timezone.localdate(),
        "source": CustomerSource.IMPORT,
        "reason": reason,
        "user": actor.pk if actor is not None else None,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO customers_customer (
                customer_no, name, name_grams, phone, phone_index, phone_last4, email,
                email_index, gender, birthday, avatar, level, points, total_spent,
                order_count, avg_order_value, register_date, status, source, created_at,
                updated_at
            )
            SELECT COALESCE(s.customer_no, next_customer_no()), s.name, s.name_grams,
                s.phone, s.phone_index, s.phone_last4, s.email, s.email_index,
                COALESCE(s.gender, 'unknown'), s.birthday, '', 'regular', 0, 0, 0, 0,
                COALESCE(s.register_date, %(today)s), 'active',
                COALESCE(s.source, %(source)s), %(now)s, %(now)s
            FROM {STAGING} s WHERE s.action = 'create' ORDER BY s.row_no
            ON CONFLICT DO NOTHING
            """,
            params,
        )
        result.created = cursor.rowcount
        if result.created < counts.get("create", 0):
            # A customer with the same phone, e-mail or number was created meanwhile (an order,
            # another import): this import's rows are those stamped with its own time.
            cursor.execute(
                f"""
                UPDATE {STAGING} s SET action = 'fail'
                WHERE s.action = 'create' AND NOT EXISTS (
                    SELECT FROM customers_customer c
                    WHERE c.phone_index = s.phone_index AND c.created_at = %(now)s
                )
                RETURNING s.row_no
                """,
                params,
            )
            for (row_no,) in cursor.fetchall():
                result.errors[row_no] = [
                    gettext("Another customer with this phone, e-mail or number was just created.")
                ]
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
            FROM {STAGING} s WHERE s.action = 'update' AND c.id = s.customer_id
            """,
            params,
        )
        result.updated = cursor.rowcount
        cursor.execute(
            f"""
            INSERT INTO customers_customertag (customer_id, tag_id, created_at)
            SELECT c.id, t.id, %(now)s
            FROM {STAGING} s JOIN customers_customer c ON c.phone_index = s.phone_index
            CROSS JOIN LATERAL unnest(s.tags) AS n(name)
            JOIN customers_tag t ON t.name = n.name
            WHERE s.action IN ('create', 'update') AND s.tags <> '{{}}'
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
                    %(now)s, %(reason)s,
                    CASE s.action WHEN 'create' THEN '+' ELSE '~' END, %(user)s
                FROM {STAGING} s JOIN customers_customer c ON c.phone_index = s.phone_index
                WHERE s.action IN ('create', 'update')
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
