"""Portrait fields in the condition engine (profiles.conditions): segments and tag rules may
name occupation, income, frequency, preferred channel, favourite category and dish; a rule on
them follows the portrait after orders and events."""

import pytest

from customers.conditions import compile_condition
from customers.models import Customer, CustomerTag
from profiles.models import CustomerProfile
from profiles.services.portraits import portrait_annotate, refresh_portraits
from tests.profiles.conftest import weekday_lunch

pytestmark = pytest.mark.django_db


def condition(field, operator, value):
    return {
        "logicalOperator": "and",
        "conditions": [{"field": field, "operator": operator, "value": value}],
    }


def matching(field, operator, value) -> set[int]:
    return set(
        Customer.objects.filter(compile_condition(condition(field, operator, value))).values_list(
            "pk", flat=True
        )
    )


@pytest.fixture
def guests(make_customer):
    office, other, nobody = (
        make_customer(name="甲"),
        make_customer(name="乙"),
        make_customer(name="丙"),
    )
    for day in range(4):
        weekday_lunch(office, day)
    weekday_lunch(other, 0, category="粤菜")
    refresh_portraits([office.pk, other.pk])  # nobody has no portrait row at all
    return office, other, nobody


def test_each_operator_agrees_with_a_filter_over_the_portraits(guests):
    office, other, nobody = guests
    everyone = {office.pk, other.pk, nobody.pk}

    def brute(predicate):
        portraits = {p.customer_id: p for p in CustomerProfile.objects.all()}
        return {pk for pk in everyone if pk in portraits and predicate(portraits[pk])}

    assert (
        matching("occupation", "eq", "white_collar")
        == brute(lambda p: (p.occupation_manual or p.occupation_inferred) == "white_collar")
        == {office.pk}
    )
    assert matching("occupation", "ne", "white_collar") == {other.pk, nobody.pk}
    assert matching("frequency", "in", ["weekly", "once"]) == {office.pk, other.pk}
    assert (
        matching("favoriteCategory", "eq", "粤菜")
        == brute(lambda p: "粤菜" in p.favourite_categories)
        == {other.pk}
    )
    assert matching("favoriteCategory", "in", ["川菜", "粤菜"]) == {office.pk, other.pk}
    assert matching("favoriteDish", "ne", "水煮鱼") == {nobody.pk}
    assert matching("income", "eq", "low") == {office.pk, other.pk}


def test_a_manual_occupation_is_what_conditions_see(guests, manager):
    office, _other, _nobody = guests
    portrait_annotate(customer=office, actor=manager, changes={"occupation_manual": "student"})
    assert matching("occupation", "eq", "white_collar") == set()
    assert matching("occupation", "eq", "student") == {office.pk}


def test_a_rule_on_the_portrait_tags_after_the_order_that_changes_it(
    make_customer, make_rule, django_capture_on_commit_callbacks
):
    customer = make_customer()
    make_rule("白领午餐", condition("occupation", "eq", "white_collar"))
    with django_capture_on_commit_callbacks(execute=True):
        for day in range(3):
            weekday_lunch(customer, day)
    assert CustomerTag.objects.filter(customer=customer, tag__name="白领午餐").exists()


def test_an_unknown_value_is_refused(guests):
    from customers.conditions import InvalidCondition

    with pytest.raises(InvalidCondition):
        compile_condition(condition("occupation", "eq", "astronaut"))
