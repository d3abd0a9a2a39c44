"""A property: over random tiers, customers, orders, refunds, grace periods and memberships,
evaluate_levels (one SQL read, decide per customer, set-based writes) ends with every customer
where `decide` puts them when it is fed figures computed by brute force in Python from the same
orders. So the SQL's windows, refunds and joins are the rules' figures, and the writes are the
decisions."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from customers.models import Customer, Order
from customers.services import customer_create
from customers.services.orders import record_order, refund_order
from membership.models import LevelChange, Membership, MembershipLevel, TierGrace
from membership.services.levels import forget_level_choices
from membership.services.tiers import LIFETIME, Figures, Standing, TierRule, decide, evaluate_levels

pytestmark = pytest.mark.django_db

WINDOWS = [LIFETIME, 30, 365]
CENT = Decimal("0.01")


@dataclass(frozen=True)
class PlannedOrder:
    days_ago: int
    at: time
    amount: Decimal
    discount: Decimal
    refund: str  # none, partial, full

    @property
    def paid(self):
        return self.amount - self.discount

    @property
    def refunded(self):
        if self.refund == "full" and self.paid > 0:
            return self.paid
        if self.refund == "partial" and self.paid >= 2 * CENT:
            return (self.paid / 2).quantize(CENT)
        return Decimal(0)

    @property
    def fully_refunded(self):
        return self.paid > 0 and self.refunded == self.paid


# Amounts at the thresholds of the tiers below are frequent, so edges are met exactly.
money = st.sampled_from([Decimal(50), Decimal(100), Decimal(300), Decimal(500)]) | st.integers(
    0, 60_000
).map(lambda cents: Decimal(cents) / 100)
planned_orders = st.builds(
    lambda days_ago, at, amount, share, refund: PlannedOrder(
        days_ago, at, amount, (amount * share / 4).quantize(CENT), refund
    ),
    # The first and the last moment inside a window of 30 or 365 days, one just outside each
    # (a second before midnight of the day before), and far back.
    days_ago=st.sampled_from([0, 30, 31, 365, 366, 800]),
    at=st.sampled_from([time(0, 0, 0), time(23, 59, 59)]),
    amount=money,
    share=st.sampled_from([0, 0, 0, 1, 4]),
    refund=st.sampled_from(["none", "none", "partial", "full"]),
)


def optional_of(values):
    return st.none() | st.sampled_from(values)


@st.composite
def tier_rules(draw):
    count = draw(st.integers(2, 4))
    # The base tier is "regular": a new customer starts in it (Customer.level's default).
    codes = ["regular", "t1", "t2", "t3"][:count]
    rules = [
        TierRule(
            code="regular",
            rank=0,
            match="any",
            window_days=365,
            min_spent=None,
            min_orders=None,
            min_points=None,
            retain_min_spent=None,
            retain_min_orders=None,
            grace_days=0,
            downgrade_to=None,
        )
    ]
    for rank in range(1, count):
        rules.append(
            TierRule(
                code=codes[rank],
                rank=rank,
                match=draw(st.sampled_from(["any", "all"])),
                window_days=draw(st.sampled_from(WINDOWS)),
                min_spent=draw(optional_of([Decimal(100), Decimal(500), Decimal(1000)])),
                min_orders=draw(optional_of([1, 2, 3])),
                min_points=draw(optional_of([50, 200])),
                retain_min_spent=draw(optional_of([Decimal(50), Decimal(300)])),
                retain_min_orders=draw(optional_of([1, 2])),
                grace_days=draw(st.sampled_from([0, 10])),
                downgrade_to=draw(st.none() | st.sampled_from(codes[:rank])),
            )
        )
    return rules


@st.composite
def scenarios(draw):
    rules = draw(tier_rules())
    codes = [rule.code for rule in rules]
    customers = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "level": st.sampled_from(codes),
                    "points": st.sampled_from([0, 49, 50, 199, 200, 300]),
                    "orders": st.lists(planned_orders, max_size=5),
                    "grace_in": st.none() | st.integers(-3, 3),
                    "membership": st.none() | st.sampled_from(codes),
                }
            ),
            min_size=1,
            max_size=5,
        )
    )
    return rules, customers


def brute_force_figures(points, orders, today):
    spent, counted = {}, {}
    for window in WINDOWS:
        cut = timezone.make_aware(datetime.combine(today - timedelta(days=window), time.min))
        inside = [order for order in orders if window == LIFETIME or placed_at(order, today) >= cut]
        spent[window] = sum((o.paid - o.refunded for o in inside), Decimal(0))
        counted[window] = sum(1 for o in inside if not o.fully_refunded)
    return Figures(points=points, spent=spent, orders=counted)


def placed_at(order, today):
    return timezone.make_aware(datetime.combine(today - timedelta(days=order.days_ago), order.at))


def load_tiers(rules):
    MembershipLevel.objects.all().delete()
    levels = {}
    for rule in rules:
        levels[rule.code] = MembershipLevel.objects.create(
            code=rule.code,
            name=rule.code,
            sort_order=rule.rank,
            condition_match=rule.match,
            window_days=rule.window_days,
            min_spent=rule.min_spent,
            min_orders=rule.min_orders,
            min_points=rule.min_points,
            retain_min_spent=rule.retain_min_spent,
            retain_min_orders=rule.retain_min_orders,
            grace_days=rule.grace_days,
            downgrade_to=levels.get(rule.downgrade_to),
        )
    forget_level_choices()
    return levels


def load_customer(index, plan, levels, today):
    customer = customer_create(actor=None, name="客", phone=f"1390000{index:04d}")
    for number, order in enumerate(plan["orders"]):
        recorded = record_order(
            actor=None,
            source="property",
            external_id=f"{index}-{number}",
            placed_at=placed_at(order, today),
            amount=order.amount,
            discount=order.discount,
            customer_id=customer.pk,
            items=[{"dish": "米饭", "quantity": 1, "price": 3}],
        ).order
        if order.refunded:
            refund_order(order=recorded, amount=order.refunded, actor=None)
    Customer.objects.filter(pk=customer.pk).update(level=plan["level"], points=plan["points"])
    if plan["grace_in"] is not None:
        TierGrace.objects.create(
            customer=customer,
            level=plan["level"],
            grace_until=today + timedelta(days=plan["grace_in"]),
        )
    if plan["membership"] is not None:
        Membership.objects.create(
            customer=customer,
            level=levels[plan["membership"]],
            start_date=today - timedelta(days=1),
            end_date=today + timedelta(days=1),
        )
    return customer


def clear():
    LevelChange.objects.all().delete()
    TierGrace.objects.all().delete()
    Membership.objects.all().delete()
    Order.objects.all().delete()
    Customer.objects.all().delete()


@settings(max_examples=60, deadline=None)
@given(scenario=scenarios())
def test_evaluate_levels_equals_decide_over_brute_force_figures(scenario):
    rules, plans = scenario
    today = timezone.localdate()
    clear()
    levels = load_tiers(rules)
    customers = [load_customer(i, plan, levels, today) for i, plan in enumerate(plans)]
    expected = {}
    for customer, plan in zip(customers, plans, strict=True):
        standing = Standing(
            customer_id=customer.pk,
            level=plan["level"],
            figures=brute_force_figures(plan["points"], plan["orders"], today),
            grace_until=None if plan["grace_in"] is None else today + timedelta(plan["grace_in"]),
            membership_level=plan["membership"],
        )
        expected[customer.pk] = decide(rules, standing, today=today, allow_downgrade=True)

    evaluate_levels(today=today)

    levels_now = dict(Customer.objects.values_list("pk", "level"))
    graces = dict(TierGrace.objects.values_list("customer_id", "grace_until"))
    assert levels_now == {pk: decision.level for pk, decision in expected.items()}
    assert {pk: graces.get(pk) for pk in expected} == {
        pk: decision.grace_until for pk, decision in expected.items()
    }
    changed = {
        c.pk for c, plan in zip(customers, plans, strict=True) if levels_now[c.pk] != plan["level"]
    }
    assert set(LevelChange.objects.values_list("customer_id", flat=True)) == changed
