"""`manage.py rotate_field_keys`: every encrypted column, history included, onto the newest key."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection

from crm.key_rotation import encrypted_tables, rotate_field_keys
from crm.keyset import Table, update_unchanged
from crm.models import JobRun
from customers.models import Address, Communication, Customer, CustomerNote
from customers.services import address_add, customer_create, customer_update, note_add
from customers.services.communications import communication_record

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def old_key(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    return settings


def make_records(count: int = 1):
    """Customers with every kind of encrypted value, and history rows of them."""
    for i in range(count):
        customer = customer_create(
            actor=None, name=f"客户{i}", phone=f"1390000{i:04d}", email=f"guest{i}@example.com"
        )
        address_add(
            customer=customer, actor=None, recipient=f"李{i}", phone="13800138000", detail="路1号"
        )
        note_add(customer=customer, actor=None, body=f"对花生过敏 {i}")
        communication_record(
            customer=customer, actor=None, channel="phone", content="投诉上菜慢", result="已道歉"
        )
        customer_update(customer=customer, actor=None, changes={"name": f"新客户{i}"})


def read_everything():
    """Every encrypted value, read through the models (decrypted)."""
    return sorted(
        [
            *(tuple(row) for row in Customer.objects.values_list("phone", "email")),
            *(tuple(row) for row in Customer.history.values_list("phone", "email")),
            *(tuple(row) for row in Address.objects.values_list("recipient", "phone", "detail")),
            *(tuple(row) for row in Address.history.values_list("recipient", "phone", "detail")),
            *((body,) for body in CustomerNote.objects.values_list("body", flat=True)),
            *(tuple(row) for row in Communication.objects.values_list("content", "result")),
        ],
        key=repr,
    )


def stored_values():
    """Every non-empty stored ciphertext, as the database holds it."""
    values = []
    with connection.cursor() as cursor:
        for encrypted in encrypted_tables():
            for column in encrypted.columns:
                cursor.execute(
                    f'SELECT "{column}" FROM "{encrypted.table.name}" WHERE "{column}" <> \'\''
                )
                values += [value for (value,) in cursor.fetchall()]
    return values


def test_every_encrypted_column_is_found_history_included():
    tables = {encrypted.table.name: set(encrypted.columns) for encrypted in encrypted_tables()}
    assert tables["customers_customer"] == {"phone", "email"}
    assert tables["customers_historicalcustomer"] == {"phone", "email"}
    assert tables["customers_address"] == {"recipient", "phone", "detail"}
    assert tables["customers_historicaladdress"] == {"recipient", "phone", "detail"}
    assert tables["customers_customernote"] == {"body"}
    assert tables["customers_communication"] == {"content", "result"}


@pytest.mark.django_db
def test_after_rotation_the_old_key_can_be_dropped(old_key):
    make_records(3)
    before = read_everything()
    old_key.FIELD_ENCRYPTION_KEYS = [NEW, OLD]

    run = rotate_field_keys(batch_size=2)

    old_key.FIELD_ENCRYPTION_KEYS = [NEW]
    assert read_everything() == before
    assert all(Fernet(NEW).decrypt(value.encode()) for value in stored_values())
    assert run.status == JobRun.Status.DONE and run.counts["complete"] is True
    assert run.counts["tables"]["customers_historicalcustomer"]["rewritten"] == 6
    assert Customer.objects.search("13900000001").count() == 1


@pytest.mark.django_db
def test_without_rotation_dropping_the_old_key_loses_the_data(old_key):
    make_records(1)
    old_key.FIELD_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(ImproperlyConfigured):
        read_everything()


@pytest.mark.django_db
def test_a_stopped_run_is_finished_by_the_next_and_a_third_finds_nothing_to_do(old_key):
    make_records(4)
    before = read_everything()
    old_key.FIELD_ENCRYPTION_KEYS = [NEW, OLD]

    # The first run dies after two batches (as a killed process would stop).
    stopped = rotate_field_keys(batch_size=2, max_batches=2)
    assert stopped.counts["complete"] is False
    left = rotate_field_keys(dry_run=True).counts["rewritten"]
    assert stopped.counts["rewritten"] > 0 and left > 0
    resumed = rotate_field_keys(batch_size=2)
    again = rotate_field_keys(batch_size=2)

    assert resumed.counts["complete"] is True
    assert resumed.counts["rewritten"] == left
    assert again.counts["rewritten"] == 0
    old_key.FIELD_ENCRYPTION_KEYS = [NEW]
    assert read_everything() == before


@pytest.mark.django_db
def test_dry_run_counts_and_changes_nothing(old_key):
    make_records(2)
    stored = sorted(stored_values())
    old_key.FIELD_ENCRYPTION_KEYS = [NEW, OLD]

    run = rotate_field_keys(dry_run=True)

    assert run.counts["rewritten"] > 0 and run.counts["dry_run"] is True
    assert sorted(stored_values()) == stored


@pytest.mark.django_db
def test_a_value_under_a_missing_key_fails_the_run_without_showing_it(old_key):
    make_records(1)
    old_key.FIELD_ENCRYPTION_KEYS = [NEW]

    with pytest.raises(CommandError, match="customers_") as error:
        call_command("rotate_field_keys", "--batch-size", "10")

    assert "1390000" not in str(error.value)
    run = JobRun.objects.get(name="crm.rotate_field_keys")
    assert run.status == JobRun.Status.FAILED and "FIELD_ENCRYPTION_KEYS" in run.error


@pytest.mark.django_db
def test_a_row_written_meanwhile_is_left_to_its_writer(old_key):
    make_records(1)
    note = CustomerNote.objects.get()
    table = Table.of(CustomerNote)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, body FROM customers_customernote")
        [(pk, read)] = cursor.fetchall()
    note.body = "改了"
    note.save()

    updated = update_unchanged(
        table, compared=[("body", "text")], assigned=[("body", "text")], rows=[(pk, read, "旧")]
    )

    assert updated == 0
    assert CustomerNote.objects.get().body == "改了"


@pytest.mark.django_db
def test_the_command_reports_each_table(old_key, capsys):
    make_records(1)
    old_key.FIELD_ENCRYPTION_KEYS = [NEW, OLD]

    call_command("rotate_field_keys", "--batch-size", "5", "--dry-run")

    out = capsys.readouterr().out
    assert "customers_historicaladdress: would rewrite 1" in out
    assert "complete" in out
