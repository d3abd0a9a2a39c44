"""Points earned on orders and reversed on refunds, through the real order path: record_order and
refund_order run the membership hooks once their transaction commits."""

from decimal import Decimal

import pytest

from customers.models import Customer
from customers.services.orders import refund_order
from membership.models import PointsEntry, PointsKind
from membership.services.order_points import earn_for_order
from membership.services.orders import on_order_refunded
from membership.services.points import adjust_points
from membership.services.redemption import redeem_points
from tests.membership.conftest import assert_ledger_consistent

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(make_customer):
    return make_customer()


@pytest.fixture
def order(place_order, django_capture_on_commit_callbacks):
    """Place an order and run the hooks its commit would run."""

    def place(customer, amount, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return place_order(customer, amount, **extra)

    return place


@pytest.fixture
def refund(django_capture_on_commit_callbacks):
    def make(order, amount):
        with django_capture_on_commit_callbacks(execute=True):
            return refund_order(order=order, amount=Decimal(amount), reason="test", actor=None)

    return make


def points_of(customer):
    return Customer.objects.values_list("points", flat=True).get(pk=customer.pk)


def set_tier(customer, code):
    # Test set-up: membership's services are the only writers of the tier in the product.
    Customer.objects.filter(pk=customer.pk).update(level=code)


def spend(customer, points):
    adjust_points(customer_id=customer.pk, adjustment=-points, reason="spent", actor=None)


def refunds_of(order):
    return list(
        PointsEntry.objects.filter(order=order, kind=PointsKind.REFUND)
        .order_by("id")
        .values_list("delta", flat=True)
    )


# Earning


@pytest.mark.parametrize(
    ("tier", "rate", "amount", "discount", "earned"),
    [
        ("regular", "1", "268.00", "20.00", 248),  # what was paid, not the list price
        ("member", "1", "100.00", "0", 120),  # 1.2x
        ("vip", "2", "268.00", "20.00", 744),  # 248 x 2 x 1.5
        ("svip", "0.5", "99.99", "0", 99),  # 99.99 x 0.5 x 2 = 99.99: rounded down
        ("member", "1", "33.33", "0", 39),  # 39.996
    ],
)
def test_an_order_earns_what_was_paid_times_the_rate_times_the_tier_multiplier(
    customer, order, points_policy, tier, rate, amount, discount, earned
):
    points_policy.earn_per_yuan = Decimal(rate)
    points_policy.save()
    set_tier(customer, tier)

    placed = order(customer, amount, discount=discount)

    entry = PointsEntry.objects.get(customer=customer)
    assert (entry.kind, entry.order_id, entry.delta, entry.remaining) == (
        PointsKind.EARN,
        placed.pk,
        earned,
        earned,
    )
    assert entry.expires_on is not None
    assert points_of(customer) == earned


def test_an_order_worth_less_than_a_point_earns_nothing(customer, order, points_policy):
    order(customer, "0.99")

    assert not PointsEntry.objects.filter(customer=customer).exists()
    assert points_of(customer) == 0


def test_a_repeated_order_earns_once(customer, points_policy, django_capture_on_commit_callbacks):
    from customers.services.orders import record_order

    def send():
        with django_capture_on_commit_callbacks(execute=True):
            return record_order(
                actor=None,
                source="pos",
                external_id="POS-1",
                placed_at="2025-01-20T12:10:00+08:00",
                amount=Decimal(100),
                customer_id=customer.pk,
                items=[{"dish": "宫保鸡丁", "category": "川菜", "quantity": 1, "price": 48}],
            )

    first, again = send(), send()

    assert (first.created, again.created) == (True, False)
    assert points_of(customer) == 100
    assert PointsEntry.objects.filter(customer=customer).count() == 1


def test_earning_twice_for_one_order_applies_once(customer, order, points_policy):
    placed = order(customer, "100")

    again = earn_for_order(order=placed, multiplier=Decimal(1))

    assert again.repeated
    assert points_of(customer) == 100
    assert PointsEntry.objects.filter(customer=customer).count() == 1


# Refunds


def test_a_full_refund_takes_back_everything_the_order_earned(
    customer, order, refund, points_policy
):
    placed = order(customer, "120", discount="20")

    refund(placed, "100")

    assert refunds_of(placed) == [-100]
    assert points_of(customer) == 0
    assert_ledger_consistent(customer.pk)


@pytest.mark.parametrize(
    "parts",
    [
        ["33.33", "33.33", "33.34"],
        ["0.01", "99.98", "0.01"],
        ["50", "50"],
        ["12.34", "0.66", "43.21", "43.79"],
    ],
)
def test_partial_refunds_add_up_to_the_whole_earned(customer, order, refund, points_policy, parts):
    set_tier(customer, "member")  # 120 points on 100 paid
    placed = order(customer, "100")

    for part in parts:
        refund(placed, part)

    assert sum(refunds_of(placed)) == -120
    assert points_of(customer) == 0
    assert_ledger_consistent(customer.pk)


def test_a_partial_refund_takes_back_its_share_rounded_down(customer, order, refund, points_policy):
    placed = order(customer, "100")

    refund(placed, "33.34")  # 33.34 points due

    assert refunds_of(placed) == [-33]
    assert points_of(customer) == 67


def test_a_refund_returns_the_redeemed_points_in_proportion(customer, order, refund, points_policy):
    adjust_points(customer_id=customer.pk, adjustment=10_000, reason="opening", actor=None)
    placed = order(customer, "200")  # earns 200
    redeem_points(customer_id=customer.pk, points=4000, order=placed)

    refund(placed, "50")  # a quarter

    assert sorted(refunds_of(placed)) == [-50, 1000]
    refund(placed, "150")
    assert sorted(refunds_of(placed)) == [-150, -50, 1000, 3000]
    assert points_of(customer) == 10_000
    assert_ledger_consistent(customer.pk)


@pytest.mark.parametrize(("spent", "taken_back"), [(80, [-20]), (100, [])])
def test_points_already_spent_are_not_taken_back_and_the_reason_says_so(
    customer, order, refund, points_policy, settings, spent, taken_back
):
    settings.LANGUAGE_CODE = "en"  # ledger reasons are written in the default language
    placed = order(customer, "100")
    spend(customer, spent)

    refund(placed, "100")

    entries = PointsEntry.objects.filter(order=placed, kind=PointsKind.REFUND)
    assert [(e.delta, e.reason) for e in entries] == [
        (
            delta,
            f"Refund of order {placed.external_id}: earned points taken back, "
            f"except {spent} already spent",
        )
        for delta in taken_back
    ]
    assert points_of(customer) == 0
    assert_ledger_consistent(customer.pk)


def test_a_later_refund_takes_only_its_own_share_of_points_spent_before(
    customer, order, refund, points_policy
):
    placed = order(customer, "100")
    spend(customer, 80)
    refund(placed, "50")  # 50 due, 20 left to take
    order(customer, "100")  # 100 new points

    refund(placed, "50")

    assert refunds_of(placed) == [-20, -50]
    assert points_of(customer) == 50


def test_running_the_refund_hook_twice_reverses_once(customer, order, refund, points_policy):
    placed = order(customer, "100")
    refund(placed, "40")
    first_refund = placed.refunds.get()

    on_order_refunded(order=placed, refund=first_refund)

    assert refunds_of(placed) == [-40]
    assert points_of(customer) == 60
