"""The ledger under concurrency (issue 5): threads, each on its own database connection, change
the same customer's points at once; the changes queue on the customer's row lock, so the balance
ends exact, never negative, and a repeated Idempotency-Key applies once."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from crm.errors import BusinessError
from crm.idempotency import IdempotencyKeyReused
from crm.models import AuditEvent
from customers.models import Customer
from membership.models import PointsEntry, PointsPolicy
from membership.services.points import NotEnoughPoints, adjust_points, expire_points
from membership.services.redemption import OrderRef, redeem_points
from tests.membership.conftest import assert_ledger_consistent, pending_order

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


@pytest.fixture(autouse=True)
def policy():
    # Truncated by the transactional test before: the defaults, created once before the threads.
    return PointsPolicy.current()


def together(calls):
    """Run the calls at once, each in a thread of its own that closes its connection; returns
    each call's result, or the BusinessError it raised."""
    start = threading.Barrier(len(calls))

    def run(call):
        try:
            start.wait()
            return call()
        except BusinessError as error:
            return error
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def adjust(customer, points, key=None):
    return lambda: adjust_points(
        customer_id=customer.pk, adjustment=points, reason="test", actor=None, idempotency_key=key
    )


def redeem(customer, points, key=None):
    # Repeats of one key are for one order; other redemptions each for an order of their own.
    ref = OrderRef("pos", f"KEY-{key}") if key else pending_order()
    return lambda: redeem_points(
        customer_id=customer.pk,
        points=points,
        order_amount=Decimal(1000),
        order_ref=ref,
        idempotency_key=key,
    )


def points_of(customer):
    return Customer.objects.values_list("points", flat=True).get(pk=customer.pk)


def test_concurrent_changes_of_one_customer_end_at_the_exact_balance(make_customer):
    customer = make_customer()
    adjust(customer, 1000)()
    calls = []
    for i in range(THREADS * 6):
        calls.append([adjust(customer, 7), adjust(customer, -5), redeem(customer, 3)][i % 3])

    results = together(calls)

    assert not [r for r in results if isinstance(r, BusinessError)]
    assert points_of(customer) == 1000 + THREADS * 2 * (7 - 5 - 3)
    assert PointsEntry.objects.filter(customer=customer).count() == 1 + THREADS * 6
    assert_ledger_consistent(customer.pk)


def test_concurrent_deductions_never_take_more_than_the_balance(make_customer):
    customer = make_customer()
    adjust(customer, 100)()

    calls = [adjust(customer, -10) if i % 2 else redeem(customer, 10) for i in range(40)]

    results = together(calls)

    refused = [r for r in results if isinstance(r, BusinessError)]
    assert len(refused) == 30
    assert all(isinstance(r, NotEnoughPoints) for r in refused)
    assert points_of(customer) == 0
    assert_ledger_consistent(customer.pk)


def test_concurrent_repeats_of_one_key_apply_once(make_customer):
    customer = make_customer()

    results = together([adjust(customer, 50, key="same") for _ in range(THREADS * 2)])

    assert len({r.entry.pk for r in results}) == 1
    assert sorted(r.repeated for r in results) == [False] + [True] * (THREADS * 2 - 1)
    assert points_of(customer) == 50
    assert AuditEvent.objects.filter(action="points_adjust").count() == 1
    assert_ledger_consistent(customer.pk)


def test_concurrent_repeats_of_one_redemption_key_apply_once(make_customer):
    customer = make_customer()
    adjust(customer, 1000)()

    results = together([redeem(customer, 300, key="same") for _ in range(THREADS)])

    assert len({r.change.entry.pk for r in results}) == 1
    assert points_of(customer) == 700
    assert_ledger_consistent(customer.pk)


def test_one_key_sent_for_several_customers_at_once_applies_to_one(make_customer):
    customers = [make_customer() for _ in range(THREADS)]

    results = together([adjust(customer, 50, key="shared") for customer in customers])

    applied = [r for r in results if not isinstance(r, BusinessError)]
    assert len(applied) == 1 and not applied[0].repeated
    assert all(isinstance(r, IdempotencyKeyReused) for r in results if r not in applied)
    assert sorted(points_of(customer) for customer in customers) == [0] * (THREADS - 1) + [50]
    for customer in customers:
        assert_ledger_consistent(customer.pk)


def test_expiry_running_during_changes_keeps_every_ledger_whole(make_customer):
    customers = [make_customer() for _ in range(4)]
    for customer in customers:
        for points in (30, 20, 10):
            adjust(customer, points)()
    # The two older lots of each customer ran out yesterday.
    today = date.today()
    oldest = PointsEntry.objects.order_by("customer_id", "id")
    for customer in customers:
        ids = list(oldest.filter(customer=customer).values_list("id", flat=True)[:2])
        PointsEntry.objects.filter(id__in=ids).update(expires_on=today - timedelta(days=1))
    calls = [lambda: expire_points(today=today, batch=1)]
    for i in range(THREADS * 2):
        customer = customers[i % len(customers)]
        calls.append([adjust(customer, -4), adjust(customer, 6), redeem(customer, 2)][i % 3])

    expiry, *results = together(calls)

    assert expiry.points > 0  # the deductions take at most 14 of a customer's 50 expired points
    applied = sum(
        [-4, 6, -2][i % 3] for i, r in enumerate(results) if not isinstance(r, BusinessError)
    )
    assert sum(points_of(c) for c in customers) == 4 * 60 + applied - expiry.points
    for customer in customers:
        assert_ledger_consistent(customer.pk)
    assert expire_points(today=today).points == 0
