"""Batch passes over a whole table in raw SQL: keyset pages by primary key, and set-based
updates that only land where the row still holds what was read.

The passes that rewrite stored ciphertext or blind indexes (key rotation, re-index, the data
migration that encrypts plain columns) read the stored values themselves, not the decrypted ones
the ORM gives, and must not lose a write made by the application between their read and their
update: the update compares the columns it read and leaves a row that changed meanwhile alone
(its writer stored it under the current keys already).
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from django.db import connection, transaction


@dataclass(frozen=True)
class Table:
    """A table's name, primary key column and that column's SQL type (for the array casts)."""

    name: str
    pk: str
    pk_type: str

    @classmethod
    def of(cls, model) -> "Table":
        pk = model._meta.pk
        return cls(model._meta.db_table, pk.column, pk.cast_db_type(connection))


def pages(table: Table, columns: Sequence[str], *, batch_size: int, where: str = "") -> Iterator:
    """Lists of (pk, *columns) rows, `batch_size` at a time in pk order; `where` (SQL over the
    table's columns) narrows the rows. Each page starts after the last pk of the one before,
    so a page costs an index range scan however far the pass has gone."""
    quote = connection.ops.quote_name
    selected = ", ".join(quote(column) for column in (table.pk, *columns))
    condition = f" AND ({where})" if where else ""
    last = None
    while True:
        after = f"{quote(table.pk)} > %s" if last is not None else "TRUE"
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {selected} FROM {quote(table.name)} WHERE {after}{condition} "
                f"ORDER BY {quote(table.pk)} LIMIT %s",
                [last, batch_size] if last is not None else [batch_size],
            )
            rows = cursor.fetchall()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def update_unchanged(
    table: Table,
    *,
    compared: Sequence[tuple[str, str]],
    assigned: Sequence[tuple[str, str]],
    rows: Sequence[tuple],
) -> int:
    """One UPDATE, in its own transaction, of `rows`: each is (pk, *compared values,
    *assigned values). `compared` and `assigned` are (column, SQL type) pairs; a row is
    updated only while its compared columns still hold the given values. Returns how many rows
    were updated."""
    if not rows:
        return 0
    quote = connection.ops.quote_name
    types = [table.pk_type, *(kind for _column, kind in compared), *(k for _c, k in assigned)]
    names = ["pk", *(f"o{i}" for i in range(len(compared)))]
    names += [f"n{i}" for i in range(len(assigned))]
    arrays = ", ".join(f"%s::{kind}[]" for kind in types)
    sets = ", ".join(f"{quote(column)} = v.n{i}" for i, (column, _kind) in enumerate(assigned))
    checks = "".join(
        f" AND t.{quote(column)} IS NOT DISTINCT FROM v.o{i}"
        for i, (column, _kind) in enumerate(compared)
    )
    columns = [list(values) for values in zip(*rows, strict=True)]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(table.name)} AS t SET {sets} "
            f"FROM unnest({arrays}) AS v({', '.join(names)}) "
            f"WHERE t.{quote(table.pk)} = v.pk{checks}",
            columns,
        )
        return cursor.rowcount


class BatchPass:
    """One job's pass over tables, batch by batch: `compute` turns a read row into its update
    (pk, *compared values, *assigned values) or None when the row is right already, and each
    page's updates go in one UPDATE, one transaction. The JobRun's counts show the progress
    after every batch (and what a crash left); `max_batches` stops the pass early, and a
    re-run, which skips the rows that are right, picks up from there. `dry_run` only counts."""

    def __init__(self, run, *, batch_size: int, dry_run: bool = False, max_batches=None):
        self.run, self.batch_size, self.dry_run, self.max_batches = (
            run,
            batch_size,
            dry_run,
            max_batches,
        )
        self.batches = 0
        run.counts.update({"dry_run": dry_run, "rewritten": 0, "complete": False, "tables": {}})

    def table(self, table: Table, *, read, compared, assigned, compute, where: str = "") -> bool:
        """Pass over `table`; False when max_batches stopped it."""
        counts = self.run.counts["tables"].setdefault(table.name, {"rewritten": 0})
        for page in pages(table, read, batch_size=self.batch_size, where=where):
            if self.max_batches is not None and self.batches >= self.max_batches:
                return False
            changes = [change for row in page if (change := compute(row)) is not None]
            if self.dry_run:
                done = len(changes)
            else:
                done = update_unchanged(table, compared=compared, assigned=assigned, rows=changes)
            counts["rewritten"] += done
            self.run.counts["rewritten"] += done
            self.batches += 1
            self.run.save(update_fields=["counts"])
        return True

    def complete(self) -> None:
        self.run.counts["complete"] = True


def pass_report(run) -> list[str]:
    """What an operator command prints of a BatchPass's JobRun: a line per table, then the total
    and whether the pass is complete."""
    verb = "would rewrite" if run.counts["dry_run"] else "rewrote"
    lines = [f"{table}: {verb} {c['rewritten']}" for table, c in run.counts["tables"].items()]
    state = "complete" if run.counts["complete"] else "stopped early; run it again to finish"
    lines.append(f"{run.name}: {verb} {run.counts['rewritten']} rows, {state}.")
    return lines
