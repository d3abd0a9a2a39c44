"""Customer conditions (spec 5.3): every field and operator, nested groups, the short form,
errors that name the condition at fault, and, as a property, that the SQL of any condition
selects exactly the customers a brute-force reading of the rules selects."""

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone, translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.conditions import (
    InvalidCondition,
    compile_condition,
    condition_fields,
    normalize_condition,
)
from customers.conditions.fields import years_before
from customers.models import Address, Customer, CustomerTag, Tag

pytestmark = pytest.mark.django_db

LEVELS = ["regular", "member", "vip", "svip"]
STATUSES = ["active", "inactive", "churned", "blocked"]
SOURCES = ["walk_in", "app", "wechat", "referral"]
GENDERS = ["male", "female", "unknown"]
CITIES = ["北京", "上海", "广州", "成都"]
TAGS = {"美食爱好者": None, "川菜控": "美食爱好者", "麻辣控": "川菜控", "会员日": None}
AMOUNTS = [Decimal(x) for x in ("0", "99.50", "500", "1200", "10000")]
TODAY = timezone.localdate()
DAYS = [0, 1, 7, 30, 90, 365]


def local_day(moment):
    return timezone.localtime(moment).date() if moment else None


@pytest.fixture
def population():
    """Sixty customers with every field varied, missing values included, and tags in a tree."""
    rng = random.Random(7)
    tags = {}
    for name, parent in TAGS.items():
        tags[name] = Tag.objects.create(name=name, parent=tags.get(parent))
    customers = []
    for n in range(60):
        last_order = None
        if rng.random() < 0.8:
            last_order = timezone.make_aware(
                datetime.combine(
                    TODAY - timedelta(days=rng.choice(DAYS)), time(rng.choice([0, 12, 23]))
                )
            )
        birthday = None
        if rng.random() < 0.8:
            birthday = years_before(TODAY, rng.randint(15, 60)) + timedelta(
                days=rng.choice([-1, 0, 1, 40])
            )
        customers.append(
            Customer(
                customer_no=f"T{n:04d}",
                name=f"客户{n}",
                level=rng.choice(LEVELS),
                status=rng.choice(STATUSES),
                source=rng.choice(SOURCES),
                gender=rng.choice(GENDERS),
                birthday=birthday,
                register_date=TODAY - timedelta(days=rng.choice(DAYS)),
                created_at=timezone.now() - timedelta(days=rng.choice(DAYS)),
                total_spent=rng.choice(AMOUNTS),
                avg_order_value=rng.choice(AMOUNTS),
                order_count=rng.choice([0, 1, 5, 12]),
                points=rng.choice([0, 100, 5000]),
                last_order_date=last_order,
            )
        )
    Customer.objects.bulk_create(customers)
    customers = list(Customer.objects.all())
    addresses, links = [], []
    for customer in customers:
        if rng.random() < 0.7:
            addresses.append(
                Address(customer=customer, city=rng.choice(CITIES), detail="路1号", is_default=True)
            )
        for tag in rng.sample(list(tags.values()), rng.randint(0, 2)):
            links.append(CustomerTag(customer=customer, tag=tag))
    Address.objects.bulk_create(addresses)
    CustomerTag.objects.bulk_create(links)
    return customers


def facts(customer: Customer) -> dict:
    """What the rules read of one customer, in plain Python."""
    address = customer.addresses.filter(is_default=True).first()
    birthday = customer.birthday
    age = None
    if birthday:
        age = (
            TODAY.year - birthday.year - ((TODAY.month, TODAY.day) < (birthday.month, birthday.day))
        )
    return {
        "level": customer.level,
        "status": customer.status,
        "source": customer.source,
        "gender": customer.gender,
        "age": age,
        "birthdayMonth": birthday.month if birthday else None,
        "city": address.city if address else None,
        "registerDate": customer.register_date,
        "createdAt": local_day(customer.created_at),
        "tags": set(customer.tags.values_list("name", flat=True)),
        "totalSpent": customer.total_spent,
        "orderCount": customer.order_count,
        "avgOrderValue": customer.avg_order_value,
        "lastOrderDate": local_day(customer.last_order_date),
        "points": customer.points,
    }


def descendants(name: str) -> set[str]:
    found = {name}
    while True:
        more = {child for child, parent in TAGS.items() if parent in found} - found
        if not more:
            return found
        found |= more


def meets(fact: dict, node: dict) -> bool:
    if "conditions" in node:
        results = [meets(fact, child) for child in node["conditions"]]
        return all(results) if node["logicalOperator"] == "and" else any(results)
    field, operator, value = node["field"], node["operator"], node["value"]
    have = fact[field]
    if field == "tags":
        if operator == "contains":
            return bool(have & descendants(value))
        if operator == "not_contains":
            return not have & descendants(value)
        return bool(have & set(value))
    if isinstance(value, str) and field in {"registerDate", "createdAt", "lastOrderDate"}:
        value = date.fromisoformat(value)
    if isinstance(value, list) and field in {"registerDate", "createdAt", "lastOrderDate"}:
        value = [date.fromisoformat(item) for item in value]
    if field in {"totalSpent", "avgOrderValue"}:
        value = [Decimal(str(v)) for v in value] if isinstance(value, list) else Decimal(str(value))
    if operator == "ne":
        return have != value
    if have is None:
        return False
    if operator == "within_days":
        return have >= TODAY - timedelta(days=value)
    if operator == "before_days":
        return have < TODAY - timedelta(days=value)
    return {
        "eq": lambda: have == value,
        "gt": lambda: have > value,
        "gte": lambda: have >= value,
        "lt": lambda: have < value,
        "lte": lambda: have <= value,
        "between": lambda: value[0] <= have <= value[1],
        "in": lambda: have in value,
        "contains": lambda: value.lower() in have.lower(),
    }[operator]()


def selected(condition) -> set[int]:
    return set(Customer.objects.filter(compile_condition(condition)).values_list("pk", flat=True))


# --- the property ---------------------------------------------------------------------------

DAY_VALUES = st.sampled_from(DAYS).map(lambda days: (TODAY - timedelta(days=days)).isoformat())
VALUES = {
    "level": st.sampled_from(LEVELS),
    "status": st.sampled_from(STATUSES),
    "source": st.sampled_from(SOURCES),
    "gender": st.sampled_from(GENDERS),
    "age": st.integers(14, 62),
    "birthdayMonth": st.integers(1, 12),
    "city": st.sampled_from([*CITIES, "京", "深圳"]),
    "registerDate": DAY_VALUES,
    "createdAt": DAY_VALUES,
    "totalSpent": st.sampled_from([0, 99.5, "500", 1200, 5000]),
    "avgOrderValue": st.sampled_from([0, 99.5, 500, 10000]),
    "orderCount": st.sampled_from([0, 1, 5, 6, 12]),
    "lastOrderDate": DAY_VALUES,
    "points": st.sampled_from([0, 100, 4999, 5000]),
}


@st.composite
def leaves(draw):
    name = draw(st.sampled_from([*VALUES, "tags"]))
    field = condition_fields()[name]
    operator = draw(st.sampled_from(field.operators))
    if name == "tags":
        names = st.sampled_from(list(TAGS))
        value = draw(names) if operator != "in" else draw(st.lists(names, min_size=1))
    elif operator in ("within_days", "before_days"):
        value = draw(st.sampled_from(DAYS))
    elif operator == "in":
        value = draw(st.lists(VALUES[name], min_size=1, max_size=3))
    elif operator == "between":
        key = (lambda v: Decimal(str(v))) if field.kind == "money" else None
        value = sorted(draw(st.lists(VALUES[name], min_size=2, max_size=2)), key=key)
    else:
        value = draw(VALUES[name])
    return {"field": name, "operator": operator, "value": value}


CONDITIONS = st.recursive(
    leaves(),
    lambda children: st.fixed_dictionaries(
        {
            "logicalOperator": st.sampled_from(["and", "or"]),
            "conditions": st.lists(children, min_size=1, max_size=3),
        }
    ),
    max_leaves=6,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(condition=CONDITIONS)
def test_any_condition_selects_exactly_the_customers_that_meet_it(population, condition):
    tree = normalize_condition(condition)
    expected = {customer.pk for customer in population if meets(facts(customer), tree)}

    assert selected(condition) == expected


# --- fields and operators, one by one -------------------------------------------------------


def test_the_short_form_means_all_of_its_conditions(population):
    short = {"totalSpent": {"gte": 500}, "orderCount": {"gte": 5, "lt": 12}}

    assert normalize_condition(short) == {
        "logicalOperator": "and",
        "conditions": [
            {"field": "totalSpent", "operator": "gte", "value": 500},
            {"field": "orderCount", "operator": "gte", "value": 5},
            {"field": "orderCount", "operator": "lt", "value": 12},
        ],
    }
    expected = {c.pk for c in population if c.total_spent >= 500 and 5 <= c.order_count < 12}
    assert selected(short) == expected and expected


def test_a_tag_condition_holds_for_the_tag_and_its_descendants(population):
    spicy = {c.pk for c in population if "麻辣控" in facts(c)["tags"]}
    sichuan = {c.pk for c in population if facts(c)["tags"] & {"川菜控", "麻辣控"}}

    assert selected({"tags": {"contains": "川菜控"}}) == sichuan
    assert selected({"tags": {"in": ["麻辣控"]}}) == spicy
    assert spicy < sichuan


def test_age_counts_whole_years_on_the_birthday_itself(make_customer):
    turning = make_customer(birthday=years_before(TODAY, 30))
    tomorrow = make_customer(birthday=years_before(TODAY, 30) + timedelta(days=1))

    assert selected({"age": {"eq": 30}}) == {turning.pk}
    assert selected({"age": {"eq": 29}}) == {tomorrow.pk}


def test_a_timestamp_compared_with_a_day_holds_the_whole_day(make_customer):
    customer = make_customer()
    late = timezone.make_aware(datetime.combine(date(2025, 1, 31), time(23, 59)))
    Customer.objects.filter(pk=customer.pk).update(last_order_date=late)

    assert selected({"lastOrderDate": {"lte": "2025-01-31"}}) == {customer.pk}
    assert selected({"lastOrderDate": {"eq": "2025-01-31"}}) == {customer.pk}
    assert selected({"lastOrderDate": {"lt": "2025-01-31"}}) == set()
    assert selected({"lastOrderDate": {"gt": "2025-01-30"}}) == {customer.pk}


def test_a_condition_compiles_to_one_query(population, django_assert_num_queries):
    condition = {
        "logicalOperator": "or",
        "conditions": [
            {"field": "city", "operator": "eq", "value": "北京"},
            {"field": "lastOrderDate", "operator": "within_days", "value": 30},
            {"field": "age", "operator": "between", "value": [20, 30]},
        ],
    }
    query = compile_condition(condition)

    with django_assert_num_queries(1):
        Customer.objects.filter(query).count()


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "path", "words"),
    [
        ({"nope": {"eq": 1}}, "condition.conditions[0].field", "Unknown field 'nope'"),
        ({"level": {"gt": "vip"}}, "condition.conditions[0].operator", "level takes"),
        ({"level": {"eq": "gold"}}, "condition.conditions[0].value", "Choose one of"),
        ({"orderCount": {"gte": "ten"}}, "condition.conditions[0].value", "whole number"),
        ({"orderCount": {"gte": 2**40}}, "condition.conditions[0].value", "whole number"),
        ({"totalSpent": {"gte": -1}}, "condition.conditions[0].value", "amount from 0"),
        ({"registerDate": {"gte": "2025-13-01"}}, "condition.conditions[0].value", "YYYY-MM-DD"),
        ({"age": {"between": [40, 20]}}, "condition.conditions[0].value", "smaller value first"),
        ({"age": {"gte": 151}}, "condition.conditions[0].value", "from 0 to 150"),
        ({"lastOrderDate": {"lte": "9999-12-31"}}, "condition.conditions[0].value", "2999-12-31"),
        ({"points": {"in": []}}, "condition.conditions[0].value", "list of 1 to"),
        (
            {"tags": {"contains": "无此标签"}},
            "condition.conditions[0].value",
            "No tag named 无此标签",
        ),
        ({"totalSpent": 5}, "condition.totalSpent", "operators and values"),
        (
            {
                "logicalOperator": "and",
                "conditions": [
                    {"field": "level", "operator": "eq", "value": "vip"},
                    {"logicalOperator": "xor", "conditions": []},
                ],
            },
            "condition.conditions[1].logicalOperator",
            '"and" or "or"',
        ),
        (
            {
                "logicalOperator": "or",
                "conditions": [{"logicalOperator": "and", "conditions": [{"field": "level"}]}],
            },
            "condition.conditions[0].conditions[0].operator",
            "level takes",
        ),
        ([], "condition", "an object of conditions"),
    ],
)
def test_a_bad_condition_is_refused_naming_the_part_at_fault(condition, path, words):
    with translation.override("en"), pytest.raises(InvalidCondition) as refused:
        normalize_condition(condition)

    assert refused.value.path == path
    assert words in refused.value.fields[path][0]


def test_nesting_and_size_are_bounded():
    deep = {"field": "points", "operator": "gte", "value": 1}
    for _ in range(11):
        deep = {"logicalOperator": "and", "conditions": [deep]}
    wide = {
        "logicalOperator": "or",
        "conditions": [{"field": "points", "operator": "eq", "value": n} for n in range(201)],
    }

    with translation.override("en"):
        with pytest.raises(InvalidCondition, match="nested at most 10"):
            normalize_condition(deep)
        with pytest.raises(InvalidCondition, match="at most 200 conditions"):
            normalize_condition(wide)
