"""An order's phone takes one path to the customer: hashed once for the lookup and once for a
new customer's row, never again on the way (the blind index is an HMAC per call)."""

from decimal import Decimal

import pytest

from crm import encryption
from customers.models import Customer
from customers.services import record_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def phone_hashes(monkeypatch):
    calls = []
    original = encryption.blind_index

    def counting(value, *, purpose):
        if purpose == "phone":
            calls.append(value)
        return original(value, purpose=purpose)

    monkeypatch.setattr(encryption, "blind_index", counting)
    return calls


def order(external_id, phone=" 138-0013-8000 "):
    return record_order(
        actor=None,
        source="pos",
        external_id=external_id,
        placed_at="2025-01-20T12:10:00+08:00",
        amount=Decimal("100"),
        customer_data={"phone": phone, "name": "张三"},
        items=[{"dish": "米饭", "quantity": 1, "price": 3}],
    )


def test_an_order_of_a_new_phone_hashes_it_once_to_look_up_and_once_for_the_row(phone_hashes):
    recorded = order("A-1")

    assert recorded.customer_created
    assert phone_hashes == ["+8613800138000", "+8613800138000"]


def test_an_order_of_a_known_phone_hashes_it_once(make_customer, phone_hashes):
    known = make_customer(phone="13800138000")
    phone_hashes.clear()

    recorded = order("A-2")

    assert recorded.customer == known and not recorded.customer_created
    assert phone_hashes == ["+8613800138000"]


def test_by_phone_finds_the_customer_by_the_normalised_number(make_customer):
    customer = make_customer(phone="13800138000")

    assert list(Customer.objects.by_phone("+8613800138000")) == [customer]
