"""Fixtures for the segments tests: customers and their orders on given days."""

import itertools
from datetime import date
from decimal import Decimal

import pytest

from customers.orders import record_order, refund_order
from tests.customers.conftest import make_customer  # noqa: F401  (the same fixture here)
from tests.membership.conftest import at

_external_ids = itertools.count(1)


def order_on(customer, day: date, amount, *, refunded=None):
    """An order of `customer` at noon on `day` through customers.orders.record_order, the one
    writer of orders; `refunded` refunds that much of it."""
    order = record_order(
        actor=None,
        source="test",
        external_id=f"S{next(_external_ids)}",
        placed_at=at(day, 12),
        amount=Decimal(amount),
        customer_id=customer.pk,
        items=[{"dish": "宫保鸡丁", "category": "川菜", "quantity": 1, "price": Decimal(amount)}],
    ).order
    if refunded is not None:
        refund_order(order=order, amount=Decimal(refunded), actor=None)
    return order


@pytest.fixture
def place():
    return order_on
