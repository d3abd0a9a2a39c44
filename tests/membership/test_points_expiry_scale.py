"""The nightly points expiry on a few thousand customers: the set-based SQL, run in small batches,
does exactly what a brute-force Python computation says, and its reads are served by indexes."""

import random
from datetime import date, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from customers.devdata.generate import generate_data
from customers.models import Customer
from membership.models import PointsEntry, PointsKind
from membership.services.points import ExpiryResult, expire_points

pytestmark = pytest.mark.django_db

CUSTOMERS = 3000
FIRST_EXPIRY = date(2025, 1, 31)


@pytest.fixture
def ledgers():
    """CUSTOMERS customers with 0-4 lots each, some partly or wholly spent (one redemption
    entry takes what they lack), some never expiring, the rest expiring at month ends over two
    years. Returns {customer id: [(lot id, expires_on, remaining)]}."""
    generate_data(customers=CUSTOMERS, orders=0, log=lambda *args: None)
    rng = random.Random(5)
    month_ends = [_month_end(FIRST_EXPIRY, months) for months in range(24)]
    entries = []
    for customer_id in Customer.objects.values_list("id", flat=True):
        balance = spent = 0
        for _lot in range(rng.randint(0, 4)):
            delta = rng.randint(1, 500)
            remaining = rng.choice([delta, delta, rng.randint(0, delta), 0])
            balance += delta
            spent += delta - remaining
            entries.append(
                PointsEntry(
                    customer_id=customer_id,
                    delta=delta,
                    kind=PointsKind.EARN,
                    reason="seed",
                    balance_after=balance,
                    remaining=remaining,
                    expires_on=rng.choice([*month_ends, None]),
                )
            )
        if spent:
            entries.append(
                PointsEntry(
                    customer_id=customer_id,
                    delta=-spent,
                    kind=PointsKind.REDEEM,
                    reason="seed",
                    balance_after=balance - spent,
                )
            )
    PointsEntry.objects.bulk_create(entries, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE customers_customer c SET points = s.points FROM ("
            "  SELECT customer_id, sum(delta) AS points FROM membership_pointsentry"
            "  GROUP BY customer_id) s WHERE c.id = s.customer_id"
        )
        cursor.execute("ANALYZE membership_pointsentry")
    lots = {}
    for lot in PointsEntry.objects.filter(delta__gt=0).values_list(
        "customer_id", "id", "expires_on", "remaining"
    ):
        lots.setdefault(lot[0], []).append(lot[1:])
    return lots


def _month_end(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months + 1
    return date(index // 12, index % 12 + 1, 1) - timedelta(days=1)


# The first month end itself (nothing expires yet), the day after it, and mid-way.
DAYS = [FIRST_EXPIRY, FIRST_EXPIRY + timedelta(days=1), date(2026, 6, 15)]


def test_expiry_in_batches_equals_a_brute_force_computation(ledgers):
    for today in DAYS:
        with transaction.atomic():
            check_expiry(ledgers, today)
            transaction.set_rollback(True)


def check_expiry(ledgers, today):
    points_before = dict(Customer.objects.values_list("id", "points"))
    expired = {}
    for customer_id, lots in ledgers.items():
        due = sum(remaining for _id, until, remaining in lots if until and until < today)
        if due:
            expired[customer_id] = due

    result = expire_points(today=today, batch=7)

    assert result == ExpiryResult(customers=len(expired), points=sum(expired.values()))
    entries = PointsEntry.objects.filter(kind=PointsKind.EXPIRE)
    assert {c: -delta for c, delta in entries.values_list("customer_id", "delta")} == expired
    assert dict(Customer.objects.values_list("id", "points")) == {
        customer_id: points - expired.get(customer_id, 0)
        for customer_id, points in points_before.items()
    }
    assert all(
        balance_after == points_before[customer_id] - expired[customer_id]
        for customer_id, balance_after in entries.values_list("customer_id", "balance_after")
    )
    remaining_now = dict(PointsEntry.objects.filter(delta__gt=0).values_list("id", "remaining"))
    assert remaining_now == {
        lot_id: 0 if until and until < today else remaining
        for lots in ledgers.values()
        for lot_id, until, remaining in lots
    }
    assert expire_points(today=today, batch=7) == ExpiryResult(customers=0, points=0)


def test_expiry_reads_the_lots_through_indexes(ledgers):
    """The nightly run must not scan the whole ledger: the planner finds the customers with
    expired lots (6% of 3,000) through points_expiry_idx, and an index can serve each batch."""
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        expire_points(today=FIRST_EXPIRY + timedelta(days=1), batch=500)
        transaction.set_rollback(True)
    discovery, *batches = [q["sql"] for q in queries if "membership_pointsentry" in q["sql"]]

    assert "points_expiry_idx" in explain(discovery)
    assert batches
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
        for sql in batches:
            assert "Seq Scan on membership_pointsentry" not in explain(sql)


def explain(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())
