"""Fixtures for the segments tests: customers and their orders on given days."""

import itertools
from datetime import date
from decimal import Decimal

import pytest

from customers.models import Customer, CustomerStatus
from customers.services import customer_create
from customers.services.orders import record_order, refund_order
from tests.customers.conftest import next_phone
from tests.membership.conftest import at

_external_ids = itertools.count(1)


def order_on(customer, day: date, amount, *, refunded=None):
    """An order of `customer` at noon on `day` through customers.services.record_order, the one
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
def shop():
    """Eight customers whose figures were worked out by hand for the range Jan 1 - Mar 31."""
    a, b, c, d, e, f, g, h = (
        customer_create(actor=None, name=name, phone=next_phone()) for name in "ABCDEFGH"
    )
    order_on(a, date(2025, 3, 30), "100")
    order_on(a, date(2025, 3, 1), "200")
    order_on(a, date(2025, 2, 1), "300")  # R 1, F 3, M 600
    order_on(b, date(2025, 3, 30), "50")  # R 1, F 1, M 50
    order_on(c, date(2025, 1, 10), "1000")
    order_on(c, date(2025, 1, 20), "1000")  # R 70, F 2, M 2000
    order_on(d, date(2025, 2, 15), "80", refunded="30")  # R 44, F 1, M 50 (net of the refund)
    order_on(e, date(2025, 3, 1), "500", refunded="500")  # fully refunded: does not count
    order_on(e, date(2024, 12, 31), "90")  # before the range
    order_on(f, date(2025, 4, 1), "70")  # after the range
    order_on(h, date(2025, 3, 15), "999")
    Customer.objects.filter(pk=h.pk).update(status=CustomerStatus.ARCHIVED)
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "g": g, "h": h}
