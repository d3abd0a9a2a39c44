"""Encrypt the notes, communications and address recipients stored before 0010 made their
columns encrypted, in batches that commit one by one (the migration is not atomic), so that a
large table is not rewritten in one transaction; a re-run skips the rows already encrypted."""

from django.db import migrations

from crm.key_rotation import decrypt_column, encrypt_plain_column
from crm.keyset import Table

COLUMNS = [
    ("CustomerNote", "body"),
    ("Communication", "content"),
    ("Communication", "result"),
    ("Address", "recipient"),
    ("HistoricalAddress", "recipient"),
]


def encrypt_rows(apps, schema_editor):
    for model, column in COLUMNS:
        encrypt_plain_column(Table.of(apps.get_model("customers", model)), column)


def decrypt_rows(apps, schema_editor):
    for model, column in COLUMNS:
        decrypt_column(Table.of(apps.get_model("customers", model)), column)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("customers", "0010_encrypted_free_text_next_blind_indexes")]

    operations = [migrations.RunPython(encrypt_rows, decrypt_rows, elidable=True)]
