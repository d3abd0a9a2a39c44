"""The import's COPY text reads back in PostgreSQL as the values it was made from."""

from datetime import date

import pytest
from django.db import connection

from customers.imports.copytext import copy_array, copy_value

pytestmark = pytest.mark.django_db

ODD_TEXTS = [
    "plain",
    "王芳",
    "back\\slash",
    "tab\there",
    "new\nline",
    "cr\rhere",
    "quote\"'",
    r"\N",
]
ODD_ARRAYS = [[], ["王", "王芳"], ['a"b', "c\\d", "{,}", " s ", "NULL", "x\ty"]]


def copied(column_type, texts):
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE copied (n int, value {column_type})")
        with cursor.cursor.copy("COPY copied FROM STDIN") as copy:
            copy.write("".join(f"{n}\t{text}\n" for n, text in enumerate(texts)))
        cursor.execute("SELECT value FROM copied ORDER BY n")
        values = [value for (value,) in cursor.fetchall()]
        cursor.execute("DROP TABLE copied")
    return values


def test_text_values_read_back_unchanged():
    assert copied("text", [copy_value(text) for text in ODD_TEXTS]) == ODD_TEXTS


def test_arrays_read_back_unchanged():
    assert copied("text[]", [copy_array(items) for items in ODD_ARRAYS]) == ODD_ARRAYS


def test_none_bytes_and_dates():
    assert copied("bytea", [copy_value(None), copy_value(b"\x00\xff")]) == [None, b"\x00\xff"]
    assert copied("date", [copy_value(date(1990, 5, 20))]) == [date(1990, 5, 20)]
