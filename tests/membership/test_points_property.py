"""The ledger invariant as a property (issue 5): whatever happens to a customer's points (orders
earning them, adjustments both ways, redemptions, full and partial refunds, nightly expiry as the
days pass, policy changes, repeated requests) the balance equals the sum of the changes and of
what is left of the lots, never goes negative, the newest entry shows it, and a refused
operation changes nothing."""

import itertools
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

import pytest
from django.db import transaction
from django.test import TestCase
from hypothesis import event, given, settings
from hypothesis import strategies as st

from crm.errors import BusinessError
from crm.idempotency import IdempotencyKeyReused
from customers.models import Customer, Order
from customers.services import customer_create
from customers.services.orders import record_order, refund_order
from membership.models import PointsEntry, PointsKind, PointsPolicy
from membership.services.points import adjust_points, expire_points
from membership.services.redemption import redeem_points
from tests.membership.conftest import assert_ledger_consistent, at, pending_order, today_is

pytestmark = pytest.mark.django_db

START = date(2025, 1, 15)
_phones = itertools.count(13900000001)

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("order"), st.integers(1, 60_000), st.sampled_from([0, 10, 50])),
        st.tuples(st.just("adjust"), st.integers(-3000, 3000).filter(bool)),
        st.tuples(st.just("redeem"), st.integers(1, 6000), st.integers(0, 9)),
        st.tuples(st.just("refund"), st.integers(0, 9), st.sampled_from(["rest", "third", "cent"])),
        st.tuples(st.just("days"), st.integers(1, 200)),
        st.tuples(st.just("expiry"), st.sampled_from([0, 1, 12, None])),
        st.tuples(st.just("repeat"), st.integers(0, 9), st.booleans()),
    ),
    max_size=14,
)


class Run:
    """One customer's history, played against the services on a simulated calendar."""

    def __init__(self):
        self.today = START
        with today_is(START):
            self.customer = customer_create(actor=None, name="积分", phone=str(next(_phones)))
        self.orders: list[Order] = []
        self.adjustments: list[tuple[str, int]] = []  # (idempotency key, adjustment)

    def state(self):
        entries = PointsEntry.objects.filter(customer=self.customer)
        return (
            Customer.objects.values_list("points", flat=True).get(pk=self.customer.pk),
            list(entries.order_by("id").values_list("id", "remaining")),
        )

    def play(self, operation):
        name, *args = operation
        before = self.state()
        with today_is(self.today):
            try:
                change = getattr(self, name)(*args)
            except BusinessError as refused:
                event(f"{name}: refused")
                assert self.state() == before, f"{name} was refused ({refused}) but changed points"
                return
        event(f"{name}: done")
        after = self.state()
        if change is not None:
            assert after[0] - before[0] == change, f"{name} moved {after[0] - before[0]}"
        assert_ledger_consistent(self.customer.pk)

    def order(self, cents, discount_percent):
        amount = Decimal(cents) / 100
        discount = (amount * discount_percent / 100).quantize(Decimal("0.01"), ROUND_DOWN)
        with TestCase.captureOnCommitCallbacks(execute=True):
            recorded = record_order(
                actor=None,
                source="prop",
                external_id=f"P{len(self.orders)}",
                placed_at=at(self.today, 12),
                amount=amount,
                discount=discount,
                customer_id=self.customer.pk,
                items=[{"dish": "宫保鸡丁", "category": "川菜", "quantity": 1, "price": amount}],
            )
        self.orders.append(recorded.order)
        earned = sum(
            PointsEntry.objects.filter(order=recorded.order, kind=PointsKind.EARN).values_list(
                "delta", flat=True
            )
        )
        assert earned >= (1 if amount - discount >= 1 else 0)  # at least a point a yuan
        return earned

    def adjust(self, adjustment):
        key = f"adjust-{len(self.adjustments)}"
        self.adjustments.append((key, adjustment))
        assert not self._send_adjustment(adjustment, key).repeated
        return adjustment

    def _send_adjustment(self, adjustment, key):
        return adjust_points(
            customer_id=self.customer.pk,
            adjustment=adjustment,
            reason="test",
            actor=None,
            idempotency_key=key,
        )

    def redeem(self, points, order_index):
        order = self.orders[order_index % len(self.orders)] if self.orders else None
        redeem_points(
            customer_id=self.customer.pk,
            points=points,
            order=order,
            order_amount=None if order else Decimal(100),
            order_ref=None if order else pending_order(),
        )
        return -points

    def refund(self, order_index, part):
        if not self.orders:
            return 0
        order = self.orders[order_index % len(self.orders)]
        order.refresh_from_db()
        left = order.amount - order.discount - order.refunded_amount
        amount = {
            "rest": left,
            "third": ((order.amount - order.discount) / 3).quantize(Decimal("0.01"), ROUND_DOWN),
            "cent": Decimal("0.01"),
        }[part]
        amount = min(amount, left)
        if amount <= 0:
            return 0
        with TestCase.captureOnCommitCallbacks(execute=True):
            refund_order(order=order, amount=amount, actor=None)
        moved = PointsEntry.objects.filter(order=order, kind=PointsKind.REFUND)
        assert -sum(d for d in moved.values_list("delta", flat=True) if d < 0) <= sum(
            PointsEntry.objects.filter(order=order, kind=PointsKind.EARN).values_list(
                "delta", flat=True
            )
        )
        return None  # checked by the invariant: the hook may take back or give back

    def days(self, count):
        self.today += timedelta(days=count)
        due = sum(
            PointsEntry.objects.filter(
                customer=self.customer, remaining__gt=0, expires_on__lt=self.today
            ).values_list("remaining", flat=True)
        )
        result = expire_points(today=self.today, batch=1)
        assert result.points == due
        assert result.customers == (1 if due else 0)
        assert expire_points(today=self.today).points == 0
        return -due

    def expiry(self, months):
        policy = PointsPolicy.current()
        policy.expiry_months = months
        policy.save()
        return 0

    def repeat(self, index, same):
        if not self.adjustments:
            return 0
        key, adjustment = self.adjustments[index % len(self.adjustments)]
        if not PointsEntry.objects.filter(idempotency_key=f"adjust:{key}").exists():
            return 0  # that adjustment was refused: nothing to repeat
        if same:
            assert self._send_adjustment(adjustment, key).repeated
        else:
            with pytest.raises(IdempotencyKeyReused):
                self._send_adjustment(adjustment + 1, key)
        return 0


@settings(max_examples=60, deadline=None)
@given(operations=OPERATIONS)
def test_every_history_keeps_the_ledger_invariant(operations):
    with transaction.atomic():
        run = Run()
        for operation in operations:
            run.play(operation)
        transaction.set_rollback(True)
