"""Re-encrypting every stored value under the newest FIELD_ENCRYPTION_KEYS key
(`manage.py rotate_field_keys`, docs/configuration.md "Personal data encryption").

The encrypted columns are found, not listed: every concrete field that is an EncryptedTextField,
on every installed model, which includes simple-history's historical models (they copy the field,
so history rows hold ciphertext too). A model added later is rotated without a change here.
"""

from dataclasses import dataclass
from functools import partial

from cryptography.fernet import InvalidToken
from django.apps import apps

from crm import keyset
from crm.encryption import EncryptedTextField, decrypt, encrypt, is_on_newest_key, is_token, rotate
from crm.jobs import job_run

JOB_NAME = "crm.rotate_field_keys"


class UnreadableValue(Exception):
    """A stored value no configured key decrypts: the key it was written with is missing."""


@dataclass(frozen=True)
class EncryptedTable:
    table: keyset.Table
    columns: tuple[str, ...]


def encrypted_tables() -> list[EncryptedTable]:
    """Every table with encrypted columns, once each (proxies share their concrete table)."""
    found = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or not meta.managed or meta.swapped:
            continue
        columns = tuple(
            field.column for field in meta.concrete_fields if isinstance(field, EncryptedTextField)
        )
        if columns:
            found.setdefault(meta.db_table, EncryptedTable(keyset.Table.of(model), columns))
    return [found[name] for name in sorted(found)]


def _rotated(table: EncryptedTable, row) -> tuple | None:
    """(pk, *stored values, *values under the newest key), or None when all are on it."""
    pk, *values = row
    if all(not value or is_on_newest_key(value) for value in values):
        return None
    try:
        rotated = [rotate(v) if v and not is_on_newest_key(v) else v for v in values]
    except InvalidToken:
        # Names the row, never the value: the message ends up in the JobRun and the logs.
        raise UnreadableValue(
            f"{table.table.name} row {pk}: a value cannot be decrypted with any key of "
            "FIELD_ENCRYPTION_KEYS; put the key it was written with back in the list."
        ) from None
    return (pk, *values, *rotated)


def rotate_field_keys(*, batch_size: int = 1000, dry_run: bool = False, max_batches=None):
    """Re-encrypt, under the newest key, every encrypted value that is on an older one, table by
    table in pk-ordered batches, one transaction each (crm.keyset.BatchPass). Values on the
    newest key are only read and their signature checked, so a re-run after a crash (or after
    `max_batches` stopped a run) skips the finished part cheaply and completes the job. A row
    changed by the application between the read and the update is left as its writer stored
    it (under the newest key). `dry_run` counts without writing.

    Returns the JobRun; its counts say, per table, how many rows were rewritten (or would be)
    and whether the pass is complete. Raises UnreadableValue when a value is under a key no
    longer configured."""
    with job_run(JOB_NAME) as run:
        batch_pass = keyset.BatchPass(
            run, batch_size=batch_size, dry_run=dry_run, max_batches=max_batches
        )
        for encrypted in encrypted_tables():
            text = [(column, "text") for column in encrypted.columns]
            finished = batch_pass.table(
                encrypted.table,
                read=encrypted.columns,
                compared=text,
                assigned=text,
                compute=partial(_rotated, encrypted),
            )
            if not finished:
                return run
        batch_pass.complete()
    return run


def encrypt_plain_column(table: keyset.Table, column: str, *, batch_size: int = 1000) -> int:
    """Encrypt the plaintext values left in a column that has just become an EncryptedTextField
    (its data migration), batch by batch, each in its own transaction; values that are already
    ciphertext are skipped, so a re-run after a crash finishes the job. Returns the count."""
    return _convert_column(table, column, batch_size, lambda v: None if is_token(v) else encrypt(v))


def decrypt_column(table: keyset.Table, column: str, *, batch_size: int = 1000) -> int:
    """The reverse of encrypt_plain_column: plaintext again, for a migration rolled back."""
    return _convert_column(table, column, batch_size, lambda v: decrypt(v) if is_token(v) else None)


def _convert_column(table, column, batch_size, convert) -> int:
    done = 0
    text = [(column, "text")]
    pages = keyset.pages(table, [column], batch_size=batch_size, where=f"{column} <> ''")
    for page in pages:
        changes = []
        for pk, value in page:
            converted = convert(value)
            if converted is not None:
                changes.append((pk, value, converted))
        done += keyset.update_unchanged(table, compared=text, assigned=text, rows=changes)
    return done
