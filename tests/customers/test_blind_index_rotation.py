"""A new BLIND_INDEX_KEY as a planned re-index (docs/configuration.md, "Personal data
encryption"): search by phone and e-mail, and the duplicate checks, keep working before,
during and after the move."""

import hmac
import secrets
from hashlib import sha256

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from crm.encryption import blind_index
from crm.models import JobRun
from customers.imports.customers import customers_import
from customers.models import Customer
from customers.services import DuplicateEmail, DuplicatePhone, customer_update
from customers.services.blind_indexes import ReindexNotReady, reindex_blind_indexes

OLD, NEW = secrets.token_urlsafe(32), secrets.token_urlsafe(32)


@pytest.fixture
def keys(settings):
    settings.BLIND_INDEX_KEY = OLD
    settings.BLIND_INDEX_KEY_NEXT = ""
    return settings


def start_reindex(settings):
    settings.BLIND_INDEX_KEY_NEXT = NEW


def switch(settings):
    settings.BLIND_INDEX_KEY = NEW
    settings.BLIND_INDEX_KEY_NEXT = ""


def found(phone_or_email):
    return list(Customer.objects.search(phone_or_email).values_list("name", flat=True))


def assert_everyone_is_found(customers):
    for customer in customers:
        assert found(customer.phone) == [customer.name]
        assert found(customer.email) == [customer.name]


def stored_hashes(table, columns):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table}")
        return {bytes(value) for row in cursor.fetchall() for value in row if value is not None}


def old_key_hashes(customers):
    """The HMACs of the customers' phones and e-mails under the old key."""
    return {
        hmac.new(OLD.encode(), f"{purpose}:{value}".encode(), sha256).digest()
        for customer in customers
        for purpose, value in [("phone", customer.phone), ("email", customer.email)]
    }


@pytest.mark.django_db
def test_search_and_duplicate_checks_hold_through_the_whole_move(keys, make_customer):
    before = [make_customer(name=f"老客{i}", email=f"old{i}@example.com") for i in range(3)]
    customer_update(customer=before[0], actor=None, changes={"name": "老客甲"})
    before[0].refresh_from_db()

    # Step 1: the next key is rolled out; the rows written before are re-indexed in the
    # background, in batches (here stopped after one, then resumed).
    start_reindex(keys)
    during = make_customer(name="新客", email="new@example.com")
    stopped = reindex_blind_indexes(batch_size=1, max_batches=1)
    assert stopped.counts["complete"] is False
    assert_everyone_is_found([*before, during])
    done = reindex_blind_indexes(batch_size=1)
    assert done.counts["complete"] is True
    assert_everyone_is_found([*before, during])
    with pytest.raises(DuplicatePhone):
        make_customer(name="重复", phone=before[1].phone)

    # Step 2: the switch. The first columns still hold the old key's hashes; the second ones
    # find every row.
    switch(keys)
    after = make_customer(name="后客", email="after@example.com")
    assert_everyone_is_found([*before, during, after])
    with pytest.raises(DuplicatePhone):
        make_customer(name="重复", phone=before[2].phone)
    with pytest.raises(DuplicateEmail):
        make_customer(name="重复", email=during.email)

    # Step 3: the old key's hashes are replaced, the second columns emptied.
    partly = reindex_blind_indexes(finish=True, batch_size=2, max_batches=1)
    assert partly.counts["complete"] is False
    assert_everyone_is_found([*before, during, after])
    finished = reindex_blind_indexes(finish=True, batch_size=2)
    assert finished.counts["complete"] is True
    everyone = [*before, during, after]
    assert_everyone_is_found(everyone)

    hashes = stored_hashes("customers_customer", ["phone_index", "email_index"])
    history = stored_hashes("customers_historicalcustomer", ["phone_index", "email_index"])
    assert not (hashes | history) & old_key_hashes(everyone)
    assert {blind_index(c.phone, purpose="phone") for c in everyone} <= hashes
    assert stored_hashes("customers_customer", ["phone_index_next", "email_index_next"]) == set()
    assert reindex_blind_indexes(finish=True).counts["rewritten"] == 0


@pytest.mark.django_db
def test_changing_the_key_without_the_re_index_loses_search(keys, make_customer):
    # The hole the re-index closes: a plain key change finds nobody.
    customer = make_customer(name="老客", email="old@example.com")
    switch(keys)
    assert found(customer.phone) == []


@pytest.mark.django_db
def test_a_process_still_on_the_old_keys_finds_rows_written_after_the_switch(keys, make_customer):
    start_reindex(keys)
    switch(keys)
    customer = make_customer(name="后客", email="after@example.com")

    # A web process not restarted yet still runs with the next key set.
    keys.BLIND_INDEX_KEY, keys.BLIND_INDEX_KEY_NEXT = OLD, NEW

    assert found(customer.phone) == ["后客"]


@pytest.mark.django_db
def test_each_step_refuses_the_wrong_keys(keys):
    with pytest.raises(ReindexNotReady):
        reindex_blind_indexes()
    start_reindex(keys)
    with pytest.raises(ReindexNotReady):
        reindex_blind_indexes(finish=True)


@pytest.mark.django_db
def test_the_command_runs_a_pass_as_a_job(keys, make_customer, capsys):
    make_customer(name="老客")
    with pytest.raises(CommandError, match="BLIND_INDEX_KEY_NEXT"):
        call_command("reindex_blind_indexes")
    start_reindex(keys)

    call_command("reindex_blind_indexes", "--batch-size", "10", "--dry-run")
    call_command("reindex_blind_indexes", "--batch-size", "10")

    out = capsys.readouterr().out
    assert "customers_customer: would rewrite 1" in out
    assert "customers_customer: rewrote 1" in out
    assert JobRun.objects.filter(name="customers.reindex_blind_indexes").count() == 2


@pytest.mark.django_db
def test_an_import_changing_an_e_mail_during_the_re_index_leaves_no_stale_hash(
    keys, make_customer, make_user, tmp_path
):
    keys.MEDIA_ROOT = tmp_path / "media"
    start_reindex(keys)
    customer = make_customer(name="老客", phone="13800138000", email="old@example.com")
    path = tmp_path / "c.csv"
    path.write_text("姓名,手机号,邮箱\n老客,13800138000,new@example.com\n", encoding="utf-8")

    result = customers_import(
        actor=make_user("importer", roles=["manager"]), path=path, on_duplicate="update"
    )
    assert result.updated == 1
    assert found("old@example.com") == []
    reindex_blind_indexes()
    switch(keys)
    assert found("old@example.com") == []
    assert found("new@example.com") == [customer.name]
