"""Moving the phone and e-mail blind indexes to a new BLIND_INDEX_KEY: a planned re-index
(`manage.py reindex_blind_indexes`, docs/configuration.md "Personal data encryption").

1. With BLIND_INDEX_KEY_NEXT set, every write fills the second index columns
   (`phone_index_next`, `email_index_next`) as well, lookups match both columns and both keys,
   and `reindex_blind_indexes` fills the second columns of the rows written before.
2. The switch: BLIND_INDEX_KEY becomes the new key and BLIND_INDEX_KEY_NEXT is unset. Lookups
   still match both columns, so the second columns find every row at once.
3. `reindex_blind_indexes --finish` writes the new key's hashes into the first columns, history
   included, and empties the second ones: no hash under the old key is left.

Each pass reads the ciphertext, decrypts it and recomputes the hashes; a row whose stored
hashes are right already is not written, so a pass is resumable and a re-run is cheap on the
database. The hashes are never logged.
"""

from functools import partial

from django.conf import settings

from crm import keyset
from crm.encryption import blind_index, decrypt, next_blind_index
from crm.jobs import job_run
from customers.models import Customer

JOB_NAME = "customers.reindex_blind_indexes"

CONTACTS = (("phone", "phone"), ("email", "email"))  # (encrypted column, HMAC purpose)
FIRST = [f"{column}_index" for column, _purpose in CONTACTS]
SECOND = [f"{column}_index_next" for column, _purpose in CONTACTS]
CIPHERTEXT = [(column, "text") for column, _purpose in CONTACTS]
BYTES = "bytea"


class ReindexNotReady(Exception):
    """The pass asked for does not fit the keys configured now."""


def _hashes(values, index) -> list[bytes | None]:
    return [
        index(decrypt(value), purpose=purpose) if value else None
        for value, (_column, purpose) in zip(values, CONTACTS, strict=True)
    ]


def _rehash(row, *, index, cleared: int = 0):
    """A row read as (pk, *ciphertext, *stored hash columns) -> (pk, *ciphertext, *hashes under
    `index`, then `cleared` emptied columns), or None when the row holds those already."""
    read = 1 + len(CONTACTS)
    pk, ciphertext = row[0], row[1:read]
    stored = [bytes(value) if value is not None else None for value in row[read:]]
    wanted = [*_hashes(ciphertext, index), *([None] * cleared)]
    return None if wanted == stored else (pk, *ciphertext, *wanted)


def reindex_blind_indexes(
    *, finish: bool = False, batch_size: int = 1000, dry_run: bool = False, max_batches=None
):
    """Step 1's background pass (default): fill every customer's second index columns under
    BLIND_INDEX_KEY_NEXT. Step 3 (`finish`, after the switch): recompute every customer's and
    history row's first index columns under BLIND_INDEX_KEY and empty the second columns.

    Batches in pk order, one transaction each; rows changed by the application meanwhile are
    left to their writer. Returns the JobRun (counts per table, `complete`). Raises
    ReindexNotReady for a fill without BLIND_INDEX_KEY_NEXT, or a finish with it still set
    (the switch has not happened)."""
    upcoming = settings.BLIND_INDEX_KEY_NEXT
    if not finish and not upcoming:
        raise ReindexNotReady("Set BLIND_INDEX_KEY_NEXT to the new key first.")
    if finish and upcoming:
        raise ReindexNotReady(
            "Switch first: set BLIND_INDEX_KEY to the new key and unset BLIND_INDEX_KEY_NEXT."
        )
    columns = [column for column, _purpose in CONTACTS]
    with job_run(JOB_NAME) as run:
        batch_pass = keyset.BatchPass(
            run, batch_size=batch_size, dry_run=dry_run, max_batches=max_batches
        )
        run.counts["step"] = "finish" if finish else "fill"
        customers, history = keyset.Table.of(Customer), keyset.Table.of(Customer.history.model)
        if finish:
            targets = [
                (customers, FIRST + SECOND, partial(_rehash, index=blind_index, cleared=2)),
                (history, FIRST, partial(_rehash, index=blind_index)),
            ]
        else:
            targets = [(customers, SECOND, partial(_rehash, index=next_blind_index))]
        for table, written, compute in targets:
            finished = batch_pass.table(
                table,
                read=[*columns, *written],
                compared=CIPHERTEXT,
                assigned=[(column, BYTES) for column in written],
                compute=compute,
            )
            if not finished:
                return run
        batch_pass.complete()
    return run
