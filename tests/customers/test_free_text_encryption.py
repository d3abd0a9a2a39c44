"""Free text that holds personal details (notes, communications, address recipients) is stored
encrypted like the phone, and the migration encrypts the rows stored before."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.db import connection

from crm.encryption import decrypt, is_token
from customers.models import Address, Communication, CustomerNote
from customers.services import address_add, note_add
from customers.services.communications import communication_record

migration = importlib.import_module("customers.migrations.0011_encrypt_free_text_rows")

STORED = [
    ("customers_customernote", "body"),
    ("customers_communication", "content"),
    ("customers_communication", "result"),
    ("customers_address", "recipient"),
    ("customers_historicaladdress", "recipient"),
]


def stored(table, column):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} ORDER BY 1")
        return [value for (value,) in cursor.fetchall()]


@pytest.fixture
def free_text(make_customer):
    customer = make_customer(name="王五")
    note_add(customer=customer, actor=None, body="对花生过敏，电话13800138000")
    communication_record(
        customer=customer, actor=None, channel="phone", content="王先生投诉", result="送了优惠券"
    )
    address_add(customer=customer, actor=None, recipient="王太太", detail="淮海路9号")
    return customer


@pytest.mark.django_db
@pytest.mark.parametrize(("table", "column"), STORED)
def test_free_text_is_stored_encrypted(free_text, table, column):
    [value] = stored(table, column)
    assert is_token(value)
    assert decrypt(value) in {"对花生过敏，电话13800138000", "王先生投诉", "送了优惠券", "王太太"}


@pytest.mark.django_db
def test_code_reads_the_plain_text(free_text):
    assert CustomerNote.objects.get().body == "对花生过敏，电话13800138000"
    communication = Communication.objects.get()
    assert (communication.content, communication.result) == ("王先生投诉", "送了优惠券")
    assert Address.objects.get().recipient == "王太太"
    assert Address.history.get().recipient == "王太太"


@pytest.mark.django_db
def test_the_migration_encrypts_rows_stored_in_plain_text_and_a_rerun_changes_nothing(free_text):
    with connection.cursor() as cursor:
        for table, column in STORED:
            cursor.execute(f"UPDATE {table} SET {column} = %s", [f"明文 {column}"])

    migration.encrypt_rows(django_apps, None)
    first = {(table, column): stored(table, column) for table, column in STORED}
    migration.encrypt_rows(django_apps, None)

    for table, column in STORED:
        [value] = first[(table, column)]
        assert decrypt(value) == f"明文 {column}"
        assert stored(table, column) == [value]
    assert CustomerNote.objects.get().body == "明文 body"


@pytest.mark.django_db
def test_the_migration_reversed_leaves_plain_text(free_text):
    migration.decrypt_rows(django_apps, None)

    assert stored("customers_customernote", "body") == ["对花生过敏，电话13800138000"]
    assert stored("customers_address", "recipient") == ["王太太"]


@pytest.mark.django_db
def test_a_recipient_still_has_at_most_64_characters(make_customer):
    customer = make_customer()
    with pytest.raises(ValidationError, match="64"):
        address_add(customer=customer, actor=None, recipient="长" * 65, detail="路1号")
