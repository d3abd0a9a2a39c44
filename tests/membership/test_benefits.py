"""Benefits (spec 2.2.4): which apply to a tier now (validity, active, stacking) and recording
their use."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.errors import BusinessError
from customers.models import Customer
from membership.models import BenefitKind, BenefitUsage, MembershipLevel
from membership.services.benefits import (
    benefit_worth,
    benefits_for,
    customer_benefits,
    record_usage,
)

pytestmark = pytest.mark.django_db

# The order the stacking tests value benefits on.
BILL = Decimal("100")


@pytest.fixture
def gold():
    """A tier of its own, so each test says exactly which benefits it has."""
    return MembershipLevel.objects.create(code="gold", name="金卡", sort_order=10)


def benefit(level, kind=BenefitKind.GIFT, value="0", group="", order=0, **fields):
    return level.benefits.create(
        kind=kind,
        value=Decimal(value),
        description=f"{kind} {value}",
        exclusive_group=group,
        sort_order=order,
        **fields,
    )


# --- stacking -----------------------------------------------------------------------------------


def test_in_an_exclusive_group_only_the_best_applies(gold):
    benefit(gold, BenefitKind.DISCOUNT, "5", group="discount", order=0)
    best = benefit(gold, BenefitKind.DISCOUNT, "12", group="discount", order=1)
    benefit(gold, BenefitKind.DISCOUNT, "10", group="discount", order=2)

    applied = benefits_for("gold", amount=BILL)

    assert applied.benefits == [best]
    assert applied.discount_percent == Decimal(12)


def test_of_equally_good_benefits_in_a_group_the_first_in_order_applies(gold):
    second = benefit(gold, BenefitKind.DISCOUNT, "10", group="discount", order=2)
    first = benefit(gold, BenefitKind.DISCOUNT, "10", group="discount", order=1)

    assert benefits_for("gold", amount=BILL).benefits == [first]
    assert second not in benefits_for("gold", amount=BILL).benefits


def test_benefits_outside_a_group_add_up_beside_each_groups_best(gold):
    gift = benefit(gold, BenefitKind.GIFT, order=0)
    happy_hour = benefit(gold, BenefitKind.DISCOUNT, "5", order=1)
    member_price = benefit(gold, BenefitKind.DISCOUNT, "10", group="discount", order=2)
    benefit(gold, BenefitKind.DISCOUNT, "8", group="discount", order=3)
    delivery = benefit(gold, BenefitKind.FREE_DELIVERY, order=4)

    applied = benefits_for("gold", amount=BILL)

    assert applied.benefits == [gift, happy_hour, member_price, delivery]
    assert applied.discount_percent == Decimal(15)


def test_discounts_are_capped_at_100_percent(gold):
    benefit(gold, BenefitKind.DISCOUNT, "60")
    benefit(gold, BenefitKind.DISCOUNT, "70")

    assert benefits_for("gold", amount=BILL).discount_percent == Decimal(100)


def test_points_multipliers_add_their_bonuses(gold):
    benefit(gold, BenefitKind.POINTS_MULTIPLIER, "1.2")
    benefit(gold, BenefitKind.POINTS_MULTIPLIER, "1.1")
    benefit(gold, BenefitKind.POINTS_MULTIPLIER, "1.5", group="points")
    benefit(gold, BenefitKind.POINTS_MULTIPLIER, "2", group="points")

    assert benefits_for("gold", amount=BILL).points_multiplier == Decimal("2.3")


def test_without_benefits_nothing_is_off_and_points_count_once(gold):
    applied = benefits_for("gold", amount=BILL)

    assert (applied.benefits, applied.discount_percent, applied.points_multiplier) == ([], 0, 1)


def test_only_the_customers_tier_counts():
    vip = benefits_for("vip", amount=BILL)

    assert {b.level.code for b in vip.benefits} == {"vip"}
    assert (vip.discount_percent, vip.points_multiplier) == (Decimal(10), Decimal("1.5"))


# --- the best of a group: its worth to the guest ------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "winner"),
    [("100", BenefitKind.AMOUNT_OFF), ("300", BenefitKind.DISCOUNT)],
    ids=["¥15 off beats 10% of ¥100", "10% of ¥300 beats ¥15 off"],
)
def test_a_discount_and_an_amount_off_are_compared_on_the_order_at_hand(gold, amount, winner):
    benefit(gold, BenefitKind.DISCOUNT, "10", group="offer", order=0)
    benefit(gold, BenefitKind.AMOUNT_OFF, "15", group="offer", order=1)

    applied = benefits_for("gold", amount=Decimal(amount))

    assert [b.kind for b in applied.benefits] == [winner]


def test_an_amount_off_is_worth_at_most_the_order(gold):
    fifty_off = benefit(gold, BenefitKind.AMOUNT_OFF, "50")

    assert benefit_worth(fifty_off, Decimal("40")) == Decimal("40")
    assert benefits_for("gold", amount=Decimal("40")).amount_off == Decimal("40")
    assert benefits_for("gold", amount=Decimal("80")).amount_off == Decimal("50")


def test_without_an_order_amount_the_customers_average_order_decides(gold, make_customer):
    benefit(gold, BenefitKind.DISCOUNT, "10", group="offer", order=0)
    benefit(gold, BenefitKind.AMOUNT_OFF, "15", group="offer", order=1)
    customer = make_customer()
    Customer.objects.filter(pk=customer.pk).update(level="gold", avg_order_value=Decimal("300"))
    customer.refresh_from_db()

    assert [b.kind for b in customer_benefits(customer).benefits] == [BenefitKind.DISCOUNT]
    on_a_small_order = customer_benefits(customer, order_amount=Decimal("100"))
    assert [b.kind for b in on_a_small_order.benefits] == [BenefitKind.AMOUNT_OFF]


def test_a_gift_is_worth_the_price_staff_gave_it_and_nothing_without_one(gold):
    unpriced = benefit(gold, BenefitKind.GIFT, "0", group="treat", order=0)
    discount = benefit(gold, BenefitKind.DISCOUNT, "5", group="treat", order=1)
    assert benefits_for("gold", amount=BILL).benefits == [discount]

    unpriced.value = Decimal("38")  # a dish of ¥38 beats 5% of ¥100
    unpriced.save()
    assert benefits_for("gold", amount=BILL).benefits == [unpriced]


def test_a_points_multiplier_is_worth_its_bonus_points_at_the_redemption_rate(gold, points_policy):
    # 1 point a yuan, 100 points a yuan off: doubling the points of ¥300 is worth ¥3.
    double = benefit(gold, BenefitKind.POINTS_MULTIPLIER, "2", group="offer", order=0)
    two_off = benefit(gold, BenefitKind.AMOUNT_OFF, "2", group="offer", order=1)

    assert benefit_worth(double, Decimal("300")) == Decimal(3)
    assert benefits_for("gold", amount=Decimal("300")).benefits == [double]
    assert benefits_for("gold", amount=Decimal("100")).benefits == [two_off]


def test_on_an_amount_of_nothing_the_bigger_discount_still_applies(gold):
    benefit(gold, BenefitKind.DISCOUNT, "5", group="discount", order=0)
    bigger = benefit(gold, BenefitKind.DISCOUNT, "12", group="discount", order=1)

    assert benefits_for("gold", amount=Decimal(0)).benefits == [bigger]


# --- validity and active ------------------------------------------------------------------------


def test_a_benefit_applies_from_its_first_through_its_last_day(gold):
    today = timezone.localdate()
    starts_today = benefit(gold, valid_from=today)
    ends_today = benefit(gold, valid_until=today)
    benefit(gold, valid_from=today + timedelta(days=1))
    benefit(gold, valid_until=today - timedelta(days=1))

    assert set(benefits_for("gold", amount=BILL).benefits) == {starts_today, ends_today}


def test_validity_is_read_on_the_given_day(gold):
    today = timezone.localdate()
    spring = benefit(gold, valid_from=today + timedelta(10), valid_until=today + timedelta(20))

    assert benefits_for("gold", amount=BILL, on=today + timedelta(days=10)).benefits == [spring]
    assert benefits_for("gold", amount=BILL, on=today + timedelta(days=21)).benefits == []


def test_an_inactive_benefit_does_not_apply(gold):
    benefit(gold, BenefitKind.DISCOUNT, "10", is_active=False)

    assert benefits_for("gold", amount=BILL).discount_percent == 0


def test_a_groups_best_that_does_not_apply_now_leaves_the_next_best(gold):
    benefit(gold, BenefitKind.DISCOUNT, "20", group="discount", is_active=False)
    yesterday = timezone.localdate() - timedelta(days=1)
    benefit(gold, BenefitKind.DISCOUNT, "15", group="discount", valid_until=yesterday)
    applies = benefit(gold, BenefitKind.DISCOUNT, "10", group="discount")

    assert benefits_for("gold", amount=BILL).benefits == [applies]


# --- usage --------------------------------------------------------------------------------------


@pytest.fixture
def gold_customer(make_customer, gold):
    customer = make_customer()
    Customer.objects.filter(pk=customer.pk).update(level="gold")
    customer.refresh_from_db()
    return customer


def test_a_use_is_recorded_with_its_order_value_and_staff_member(
    gold, gold_customer, place_order, make_user
):
    noodles = benefit(gold, BenefitKind.BIRTHDAY)
    order = place_order(gold_customer, "88")
    waiter = make_user("waiter")

    usage = record_usage(
        benefit=noodles,
        customer=gold_customer,
        order=order,
        value=Decimal("18"),
        note="Birthday",
        actor=waiter,
    ).usage

    usage.refresh_from_db()
    assert (usage.benefit, usage.customer, usage.order, usage.value, usage.actor) == (
        noodles,
        gold_customer,
        order,
        Decimal("18.00"),
        waiter,
    )


@pytest.mark.parametrize(
    "fields",
    [
        lambda today: {"is_active": False},
        lambda today: {"valid_until": today - timedelta(days=1)},
        lambda today: {"valid_from": today + timedelta(days=1)},
    ],
    ids=["inactive", "ended", "not started"],
)
def test_a_benefit_that_does_not_apply_now_cannot_be_used(gold, gold_customer, fields):
    unavailable = benefit(gold, **fields(timezone.localdate()))

    with pytest.raises(BusinessError) as refused:
        record_usage(benefit=unavailable, customer=gold_customer)

    assert "benefitId" in refused.value.fields
    assert not BenefitUsage.objects.exists()


def test_the_benefit_of_another_tier_cannot_be_used(gold_customer):
    svip_only = MembershipLevel.objects.get(code="svip").benefits.first()

    with pytest.raises(BusinessError):
        record_usage(benefit=svip_only, customer=gold_customer)


def test_the_loser_of_an_exclusive_group_cannot_be_used(gold, gold_customer):
    benefit(gold, BenefitKind.DISCOUNT, "10", group="discount")
    smaller = benefit(gold, BenefitKind.DISCOUNT, "5", group="discount")

    with pytest.raises(BusinessError):
        record_usage(benefit=smaller, customer=gold_customer)


def test_on_its_order_only_the_benefit_worth_most_there_can_be_used(
    gold, gold_customer, place_order
):
    discount = benefit(gold, BenefitKind.DISCOUNT, "10", group="offer", order=0)
    amount_off = benefit(gold, BenefitKind.AMOUNT_OFF, "15", group="offer", order=1)
    big_order = place_order(gold_customer, "300")

    record_usage(benefit=discount, customer=gold_customer, order=big_order)
    with pytest.raises(BusinessError) as refused:
        record_usage(benefit=amount_off, customer=gold_customer, order=big_order)

    assert "benefitId" in refused.value.fields


def test_a_use_on_another_customers_order_is_refused(
    gold, gold_customer, make_customer, place_order
):
    gift = benefit(gold, BenefitKind.GIFT)
    someone_elses = place_order(make_customer(), "50")

    with pytest.raises(BusinessError) as refused:
        record_usage(benefit=gift, customer=gold_customer, order=someone_elses)

    assert "orderId" in refused.value.fields
    assert not BenefitUsage.objects.exists()
