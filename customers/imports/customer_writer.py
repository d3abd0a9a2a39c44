"""How a customer import writes a checked batch (step 4 of customers.imports.customers): new
customers, their tags and creation history by COPY, updates set-based through a temporary table."""

from concurrent.futures import ThreadPoolExecutor

from django.db import connection, transaction

from customers.imports.copytext import (
    NEW_CUSTOMER_COLUMNS,
    NULL,
    UPDATE_COLUMNS,
    copy_array,
    copy_text,
)
from customers.models import (
    customer_number,
)
from customers.services import tags_get_or_create

UPDATES = "customer_import_updates"

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


class BatchWriter:
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
                -- A new e-mail's hash under a re-index's next key is filled by the re-index
                -- pass; the old e-mail's must not stay (docs/configuration.md, "Personal data
                -- encryption").
                email_index_next = CASE WHEN s.email IS NULL THEN c.email_index_next END,
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
