"""The points ledger (spec 2.2.5): idempotency, FIFO lots, expiry and its dates, the expiring-soon
figure and the limits of redemption, on the services of membership.services.points."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.errors import BusinessError
from crm.idempotency import IdempotencyKeyReused
from crm.models import AuditEvent
from customers.models import Customer
from customers.services.orders import refund_order
from membership.models import PointsEntry, PointsKind
from membership.services.points import (
    ExpiryResult,
    NotEnoughPoints,
    adjust_points,
    expire_points,
    expiry_date,
    points_summary,
)
from membership.services.redemption import redeem_points
from tests.membership.conftest import assert_ledger_consistent, pending_order, today_is

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(make_customer):
    return make_customer()


def give(customer, points, *, on=None, key=None):
    """A staff adjustment of `points` (positive: a lot), as if made on the day `on`."""
    with today_is(on or date.today()):
        return adjust_points(
            customer_id=customer.pk,
            adjustment=points,
            reason="test",
            actor=None,
            idempotency_key=key,
        )


def lots(customer):
    """(expires_on, delta, remaining) of the customer's lots, oldest first."""
    return list(
        PointsEntry.objects.filter(customer=customer, delta__gt=0)
        .order_by("id")
        .values_list("expires_on", "delta", "remaining")
    )


def points_of(customer):
    return Customer.objects.values_list("points", flat=True).get(pk=customer.pk)


# Idempotency


def test_adjustment_repeated_with_its_key_returns_the_first_entry_and_applies_once(
    customer, points_policy
):
    first = give(customer, 100, key="k-1")
    again = give(customer, 100, key="k-1")

    assert (first.repeated, again.repeated) == (False, True)
    assert again.entry.pk == first.entry.pk
    assert PointsEntry.objects.filter(customer=customer).count() == 1
    assert points_of(customer) == 100
    assert AuditEvent.objects.filter(action="points_adjust").count() == 1


def test_key_reused_for_a_different_adjustment_is_a_conflict_and_changes_nothing(
    customer, points_policy
):
    give(customer, 100, key="k-1")

    with pytest.raises(IdempotencyKeyReused) as refused:
        give(customer, 50, key="k-1")

    assert refused.value.status == 409
    assert points_of(customer) == 100
    assert PointsEntry.objects.filter(customer=customer).count() == 1


def test_key_reused_for_another_customer_is_a_conflict(customer, make_customer, points_policy):
    other = make_customer()
    give(customer, 100, key="k-1")

    with pytest.raises(IdempotencyKeyReused):
        give(other, 100, key="k-1")

    assert points_of(other) == 0
    assert not PointsEntry.objects.filter(customer=other).exists()


def test_deduction_repeated_with_its_key_applies_once(customer, points_policy):
    give(customer, 100)
    first = give(customer, -30, key="k-2")
    again = give(customer, -30, key="k-2")

    assert again.repeated and again.entry.pk == first.entry.pk
    assert points_of(customer) == 70
    assert_ledger_consistent(customer.pk)


def test_redemption_repeated_with_its_key_returns_the_first_even_at_the_order_cap(
    customer, points_policy
):
    give(customer, 10_000)
    ref = pending_order()
    # 100 yuan at most 50% paid with points at 100 points a yuan: 5,000 points at most.
    first = redeem_points(
        customer_id=customer.pk,
        points=5000,
        order_amount=Decimal(100),
        order_ref=ref,
        idempotency_key="r-1",
    )
    again = redeem_points(
        customer_id=customer.pk,
        points=5000,
        order_amount=Decimal(100),
        order_ref=ref,
        idempotency_key="r-1",
    )

    assert again.change.repeated and again.change.entry.pk == first.change.entry.pk
    assert again.deduction == first.deduction == Decimal("50.00")
    assert points_of(customer) == 5000


# FIFO consumption


def test_deductions_consume_the_earliest_expiry_first_and_never_expiring_lots_last(
    customer, points_policy
):
    give(customer, 100, on=date(2025, 3, 10))  # lasts until 2026-03-31
    points_policy.expiry_months = None
    points_policy.save()
    give(customer, 100, on=date(2025, 3, 11))  # never expires
    points_policy.expiry_months = 1
    points_policy.save()
    give(customer, 100, on=date(2025, 4, 1))  # lasts until 2025-05-31, the earliest

    give(customer, -150)

    assert lots(customer) == [
        (date(2026, 3, 31), 100, 50),
        (None, 100, 100),
        (date(2025, 5, 31), 100, 0),
    ]
    give(customer, -100)
    assert lots(customer) == [
        (date(2026, 3, 31), 100, 0),
        (None, 100, 50),
        (date(2025, 5, 31), 100, 0),
    ]
    assert_ledger_consistent(customer.pk)


def test_lots_of_the_same_expiry_are_consumed_oldest_first(customer, points_policy):
    give(customer, 40, on=date(2025, 3, 1))
    give(customer, 40, on=date(2025, 3, 20))

    give(customer, -50)

    assert [remaining for _expiry, _delta, remaining in lots(customer)] == [0, 30]


# Expiry


def test_expiry_takes_exactly_what_is_left_of_lots_past_their_last_day(customer, points_policy):
    points_policy.expiry_months = 0  # valid until the end of the month earned in
    points_policy.save()
    give(customer, 100, on=date(2025, 1, 5))  # until 2025-01-31
    give(customer, 70, on=date(2025, 2, 5))  # until 2025-02-28
    give(customer, 10, on=date(2025, 3, 5))  # until 2025-03-31
    give(customer, -30)  # from the January lot: 70 of it left

    assert expire_points(today=date(2025, 2, 28)) == ExpiryResult(customers=1, points=70)

    entry = PointsEntry.objects.get(customer=customer, kind=PointsKind.EXPIRE)
    assert (entry.delta, entry.balance_after, entry.remaining) == (-70, 80, 0)
    assert [remaining for _expiry, _delta, remaining in lots(customer)] == [0, 70, 10]
    assert points_of(customer) == 80
    assert_ledger_consistent(customer.pk)


def test_expiry_writes_one_entry_per_customer_for_all_their_expired_lots(
    customer, make_customer, points_policy
):
    other = make_customer()
    untouched = make_customer()
    for day in (date(2024, 1, 5), date(2024, 2, 5), date(2024, 3, 5)):
        give(customer, 10, on=day)
    give(other, 5, on=date(2024, 6, 1))
    give(untouched, 7, on=date(2025, 6, 1))

    result = expire_points(today=date(2025, 7, 1), batch=1)

    assert result == ExpiryResult(customers=2, points=35)
    assert list(
        PointsEntry.objects.filter(kind=PointsKind.EXPIRE)
        .order_by("customer_id")
        .values_list("customer_id", "delta")
    ) == [(customer.pk, -30), (other.pk, -5)]
    assert (points_of(customer), points_of(other), points_of(untouched)) == (0, 0, 7)
    for each in (customer, other, untouched):
        assert_ledger_consistent(each.pk)


def test_a_second_expiry_run_on_the_same_day_does_nothing(customer, points_policy):
    give(customer, 10, on=date(2024, 1, 5))
    expire_points(today=date(2025, 2, 1))

    assert expire_points(today=date(2025, 2, 1)) == ExpiryResult(customers=0, points=0)
    assert PointsEntry.objects.filter(kind=PointsKind.EXPIRE).count() == 1


def test_a_run_for_a_later_date_does_not_block_that_date_s_own_run(customer, points_policy):
    # membership_nightly --date can run ahead; the real run of that day must still expire
    # lots that have reached their end since.
    give(customer, 10, on=date(2024, 1, 5))
    expire_points(today=date(2025, 3, 1))
    give(customer, 4, on=date(2024, 1, 20))  # a lot that expired in between (backdated)

    assert expire_points(today=date(2025, 3, 1)) == ExpiryResult(customers=1, points=4)
    assert PointsEntry.objects.filter(kind=PointsKind.EXPIRE).count() == 2
    assert_ledger_consistent(customer.pk)


def test_points_are_valid_through_their_last_day(customer, points_policy):
    give(customer, 10, on=date(2025, 1, 20))  # until 2026-01-31

    assert expire_points(today=date(2026, 1, 31)) == ExpiryResult(customers=0, points=0)
    assert expire_points(today=date(2026, 2, 1)) == ExpiryResult(customers=1, points=10)


def test_lots_without_expiry_never_expire(customer, points_policy):
    points_policy.expiry_months = None
    points_policy.save()
    give(customer, 10, on=date(2000, 1, 1))

    assert expire_points(today=date(2999, 1, 1)) == ExpiryResult(customers=0, points=0)
    assert points_of(customer) == 10


@pytest.mark.parametrize(
    ("earned_on", "months", "last_day"),
    [
        (date(2025, 1, 20), 12, date(2026, 1, 31)),  # the spec's example
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2023, 2, 28), 12, date(2024, 2, 29)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2025, 11, 30), 1, date(2025, 12, 31)),
        (date(2025, 12, 1), 1, date(2026, 1, 31)),  # December rolls into the next year
        (date(2025, 12, 31), 12, date(2026, 12, 31)),
        (date(2025, 12, 31), 0, date(2025, 12, 31)),
        (date(2025, 1, 1), 0, date(2025, 1, 31)),
        (date(2025, 6, 15), 24, date(2027, 6, 30)),
        (date(2025, 6, 15), None, None),
    ],
)
def test_expiry_date(earned_on, months, last_day):
    assert expiry_date(earned_on, months) == last_day


@settings(max_examples=300, deadline=None)
@given(
    earned_on=st.dates(min_value=date(1900, 1, 1), max_value=date(2900, 12, 31)),
    months=st.integers(min_value=0, max_value=240),
)
def test_expiry_date_is_the_last_day_of_the_month_months_later(earned_on, months):
    last_day = expiry_date(earned_on, months)

    assert (last_day + timedelta(days=1)).day == 1
    months_later = (last_day.year - earned_on.year) * 12 + last_day.month - earned_on.month
    assert months_later == months


# Expiring soon


def test_summary_counts_what_is_left_of_lots_expiring_within_the_window(customer, points_policy):
    points_policy.expiry_months = 0
    points_policy.save()
    today = date(2025, 3, 15)
    give(customer, 10, on=date(2025, 3, 1))  # until 2025-03-31: within 30 days
    give(customer, 20, on=date(2025, 4, 1))  # until 2025-04-30: 46 days out
    points_policy.expiry_months = None
    points_policy.save()
    give(customer, 40, on=date(2025, 3, 1))  # never
    give(customer, -4)  # from the March lot
    customer.refresh_from_db()

    with today_is(today):
        summary = points_summary(customer)

    assert (summary.balance, summary.expiring_soon) == (66, 6)
    assert summary.expiring_by == today + timedelta(days=30)


def test_summary_window_includes_its_last_day(customer, points_policy):
    points_policy.expiry_months = 0
    points_policy.save()
    give(customer, 10, on=date(2025, 3, 1))  # until 2025-03-31
    customer.refresh_from_db()

    with today_is(date(2025, 3, 1)):
        assert points_summary(customer).expiring_soon == 10  # 2025-03-31 is day 30
    with today_is(date(2025, 2, 28)):
        assert points_summary(customer).expiring_soon == 0


# Redemption limits


def test_redemption_is_capped_at_the_share_of_the_order(customer, points_policy):
    give(customer, 10_000)

    with pytest.raises(BusinessError) as refused:
        redeem_points(
            customer_id=customer.pk,
            points=5001,
            order_amount=Decimal(100),
            order_ref=pending_order(),
        )
    assert "points" in refused.value.fields
    assert points_of(customer) == 10_000

    redemption = redeem_points(
        customer_id=customer.pk, points=5000, order_amount=Decimal(100), order_ref=pending_order()
    )
    assert redemption.deduction == Decimal("50.00")
    assert points_of(customer) == 5000
    assert_ledger_consistent(customer.pk)


def test_redemption_follows_the_rate_and_share_of_the_policy(customer, points_policy):
    points_policy.points_per_yuan_redeemed = 50
    points_policy.max_redeem_share = 20
    points_policy.save()
    give(customer, 10_000)

    redemption = redeem_points(
        customer_id=customer.pk, points=999, order_amount=Decimal(100), order_ref=pending_order()
    )

    assert redemption.deduction == Decimal("19.98")
    with pytest.raises(BusinessError) as refused:
        redeem_points(
            customer_id=customer.pk,
            points=1001,
            order_amount=Decimal(100),
            order_ref=pending_order(),
        )
    assert "points" in refused.value.fields


def test_redemption_against_another_customers_order_is_refused(
    customer, make_customer, place_order, points_policy
):
    other = make_customer()
    order = place_order(other, "200")
    give(customer, 1000)

    with pytest.raises(BusinessError) as refused:
        redeem_points(customer_id=customer.pk, points=100, order=order)

    assert "orderId" in refused.value.fields
    assert points_of(customer) == 1000


def test_redemption_beyond_the_balance_is_refused_with_a_field_error(customer, points_policy):
    give(customer, 100)

    with pytest.raises(NotEnoughPoints) as refused:
        redeem_points(
            customer_id=customer.pk,
            points=101,
            order_amount=Decimal(1000),
            order_ref=pending_order(),
        )

    assert refused.value.status == 400
    assert list(refused.value.fields) == ["points"]
    assert points_of(customer) == 100
    assert PointsEntry.objects.filter(customer=customer).count() == 1


def test_deduction_beyond_the_balance_is_refused_with_a_field_error(customer, points_policy):
    give(customer, 100)

    with pytest.raises(NotEnoughPoints) as refused:
        give(customer, -101)

    assert list(refused.value.fields) == ["adjustment"]
    assert points_of(customer) == 100


def test_redemptions_on_one_order_share_its_cap(customer, place_order, points_policy):
    order = place_order(customer, "100")
    give(customer, 10_000)
    redeem_points(customer_id=customer.pk, points=3000, order=order)

    with pytest.raises(BusinessError) as refused:
        redeem_points(customer_id=customer.pk, points=2001, order=order)

    assert "points" in refused.value.fields
    redeem_points(customer_id=customer.pk, points=2000, order=order)
    assert points_of(customer) == 10_000 - 5000


def test_the_refunded_part_of_an_order_cannot_be_paid_with_points(
    customer, place_order, points_policy
):
    order = place_order(customer, "120", discount="20")
    refund_order(order=order, amount=Decimal(60), actor=None)
    order.refresh_from_db()
    give(customer, 10_000)

    with pytest.raises(BusinessError) as refused:
        redeem_points(customer_id=customer.pk, points=2001, order=order)

    assert "points" in refused.value.fields
    assert redeem_points(customer_id=customer.pk, points=2000, order=order).deduction == 20


@pytest.mark.parametrize("points", [0, -5])
def test_redeeming_nothing_is_refused(customer, points_policy, points):
    give(customer, 100)

    with pytest.raises(BusinessError) as refused:
        redeem_points(
            customer_id=customer.pk,
            points=points,
            order_amount=Decimal(100),
            order_ref=pending_order(),
        )

    assert "points" in refused.value.fields
    assert points_of(customer) == 100
