"""Fixtures for the profiles tests."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.customers.conftest import (  # noqa: F401
    make_customer,
    manager,
    marketer,
)


@pytest.fixture
def make_rule():
    from customers.models import Tag
    from profiles.models import TagRule

    def make(tag_name, condition, *, confidence="0.80", **fields):
        tag, _created = Tag.objects.get_or_create(name=tag_name, defaults={"type": "auto"})
        return TagRule.objects.create(tag=tag, condition=condition, confidence=confidence, **fields)

    return make


def weekday_lunch(customer, day, *, dish="水煮鱼", category="川菜", payment_method="other"):
    """One 45-yuan order at noon on the `day`-th day from Monday 2026-11-02 (local time)."""
    moment = datetime.combine(date(2026, 11, 2) + timedelta(days=day), time(12))
    from customers.services.orders import record_order

    record_order(
        actor=None,
        source="pos",
        external_id=f"L-{customer.pk}-{day}-{dish}-{category}",
        placed_at=timezone.make_aware(moment),
        amount=Decimal("45.00"),
        items=[{"dish": dish, "category": category, "quantity": 1, "price": "45.00"}],
        customer_id=customer.pk,
        payment_method=payment_method,
    )
