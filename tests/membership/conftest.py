"""Fixtures for the membership tests: customers, orders placed on a given day, the default tiers."""

import importlib
import itertools
from contextlib import contextmanager
from datetime import date, datetime, time
from decimal import Decimal
from unittest import mock

import pytest
from django.apps import apps
from django.db.models import Min, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from customers.models import Customer
from customers.services.orders import record_order
from membership.models import MembershipLevel, PointsEntry, PointsPolicy
from membership.services.redemption import OrderRef
from tests.customers.conftest import make_customer  # noqa: F401  (the same fixture here)

_external_ids = itertools.count(1)


def at(day: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A moment of `day` in the site's time zone, as the ordering system sends it."""
    return timezone.make_aware(datetime.combine(day, time(hour, minute, second)))


_pending_orders = itertools.count(1)


def pending_order() -> OrderRef:
    """The reference of an order not recorded yet, new at each call."""
    return OrderRef("pos", f"PENDING-{next(_pending_orders)}")


# The fields of a benefit in the API.
BENEFIT_KEYS = {
    "id",
    "type",
    "value",
    "description",
    "exclusiveGroup",
    "validFrom",
    "validUntil",
    "usageLimit",
    "usagePeriod",
}


@pytest.fixture
def place_order():
    """Record an order through customers.services.record_order, the only writer of the totals."""

    def place(customer, amount, *, placed_at=None, discount="0"):
        return record_order(
            actor=None,
            source="test",
            external_id=f"T{next(_external_ids)}",
            placed_at=placed_at or timezone.now(),
            amount=Decimal(amount),
            discount=Decimal(discount),
            customer_id=customer.pk,
            items=[{"dish": "宫保鸡丁", "category": "川菜", "quantity": 1, "price": 48}],
        ).order

    return place


@pytest.fixture
def default_tiers():
    """The default tiers, benefits and points policy of migration 0002: a transactional test
    truncates them away. Returns the tiers by code."""
    migration = importlib.import_module("membership.migrations.0002_default_tiers")
    migration.create_defaults(apps, None)
    return {level.code: level for level in MembershipLevel.objects.all()}


@contextmanager
def today_is(day: date):
    """Run as if today were `day`: lots take their expiry date from today (timezone.localdate)."""
    real = timezone.localdate

    def localdate(value=None, timezone=None):
        return day if value is None else real(value, timezone)

    with mock.patch.object(timezone, "localdate", localdate):
        yield


def assert_ledger_consistent(customer_id: int) -> None:
    """The invariant of membership.services.points: Customer.points equals the sum of the
    changes and the sum of what is left of the lots, never negative; each entry's balance_after
    is the running sum of the changes, so the newest one shows the balance."""
    points = Customer.objects.values_list("points", flat=True).get(pk=customer_id)
    entries = PointsEntry.objects.filter(customer_id=customer_id)
    totals = entries.aggregate(
        delta=Coalesce(Sum("delta"), 0),
        remaining=Coalesce(Sum("remaining"), 0),
        lowest=Min("balance_after"),
    )
    assert points == totals["delta"] == totals["remaining"] >= 0
    assert totals["lowest"] is None or totals["lowest"] >= 0
    running = 0
    for delta, balance_after in entries.order_by("id").values_list("delta", "balance_after"):
        running += delta
        assert balance_after == running
    newest = entries.order_by("-created_at", "-id").values_list("balance_after", flat=True)
    assert newest.first() == (None if totals["lowest"] is None else points)


_usernames = itertools.count(1)


@pytest.fixture
def client_as(make_user, api_client):
    """An API client of a new user in `role` (crm.roles; None: no role), asking for English
    unless told another language."""

    def make(role=None, language="en"):
        user = make_user(f"{role}-{next(_usernames)}", roles=[role] if role else [])
        return api_client(user, language=language)

    return make


@pytest.fixture
def points_policy():
    """The points policy with the defaults of migration 0002 set explicitly, so that the figures
    of a test hold whatever the defaults become: 1 point a yuan, 12 months, 100 points a yuan
    off, at most 50% of an order, 30 days' warning."""
    policy = PointsPolicy.current()
    policy.earn_per_yuan = Decimal(1)
    policy.expiry_months = 12
    policy.points_per_yuan_redeemed = 100
    policy.max_redeem_share = 50
    policy.expiring_soon_days = 30
    policy.save()
    return policy
