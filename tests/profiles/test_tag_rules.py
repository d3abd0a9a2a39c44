"""Tag rules (spec 2.4.4): applying adds the rule's tag to the customers who meet its condition
and removes it from those who no longer do, never removing a manual tag."""

from datetime import datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.models import JobRun
from customers.models import Customer, CustomerTag, TagSource
from customers.services import record_order
from profiles.services.tag_rules import apply_tag_rules, tag_rule_delete, tag_rule_save

pytestmark = pytest.mark.django_db

BIG_SPENDER = {"totalSpent": {"gte": 1000}}


def rule_tagged(tag_name="大客户") -> set[int]:
    return set(
        CustomerTag.objects.filter(tag__name=tag_name, source=TagSource.RULE).values_list(
            "customer_id", flat=True
        )
    )


def spend(customer, amount):
    Customer.objects.filter(pk=customer.pk).update(total_spent=Decimal(amount))


def test_apply_adds_and_removes_rule_tags(make_customer, make_rule):
    rich, poor = make_customer(name="甲"), make_customer(name="乙")
    spend(rich, 5000)
    rule = make_rule("大客户", BIG_SPENDER, confidence="0.75")

    assert apply_tag_rules() == {"rules": 1, "added": 1, "removed": 0}
    link = CustomerTag.objects.get(customer=rich, tag=rule.tag)
    assert (link.source, link.confidence, link.rule_id) == ("rule", Decimal("0.75"), rule.pk)

    spend(rich, 10)
    spend(poor, 2000)
    assert apply_tag_rules() == {"rules": 1, "added": 1, "removed": 1}
    assert rule_tagged() == {poor.pk}
    run = JobRun.objects.filter(name="profiles.apply_tag_rules").latest("pk")
    assert run.status == JobRun.Status.DONE and run.counts["added"] == 1


def test_a_rule_never_removes_a_manual_tag(make_customer, make_rule):
    kept = make_customer(tags=["大客户"])
    matching = make_customer(tags=["大客户"])
    spend(matching, 5000)
    make_rule("大客户", BIG_SPENDER)

    apply_tag_rules()

    links = CustomerTag.objects.filter(tag__name="大客户").order_by("customer_id")
    assert [(link.customer_id, link.source) for link in links] == [
        (kept.pk, "manual"),
        (matching.pk, "manual"),
    ]


def test_applying_again_changes_nothing(make_customer, make_rule):
    spend(make_customer(), 5000)
    make_rule("大客户", BIG_SPENDER)
    apply_tag_rules()
    before = list(CustomerTag.objects.values_list("pk", "customer_id", "tag_id", "created_at"))

    assert apply_tag_rules() == {"rules": 1, "added": 0, "removed": 0}
    assert list(CustomerTag.objects.values_list("pk", "customer_id", "tag_id", "created_at")) == (
        before
    )


def test_an_inactive_or_deleted_rule_takes_its_tags_away(make_customer, make_rule, manager):
    customer = make_customer()
    spend(customer, 5000)
    rule = make_rule("大客户", BIG_SPENDER)
    other = make_rule("常客", {"orderCount": {"gte": 0}})
    apply_tag_rules()
    assert rule_tagged() == {customer.pk} and rule_tagged("常客") == {customer.pk}

    rule.active = False
    rule.save()
    apply_tag_rules()
    assert rule_tagged() == set()

    tag_rule_delete(rule=other, actor=manager)
    assert rule_tagged("常客") == set()


def test_saving_a_rule_checks_its_condition_and_applies_it(
    make_customer, make_rule, manager, django_capture_on_commit_callbacks
):
    from customers.conditions import InvalidCondition
    from customers.models import Tag
    from profiles.models import TagRule

    customer = make_customer()
    spend(customer, 5000)
    rule = TagRule(tag=Tag.objects.create(name="大客户"), condition=BIG_SPENDER)
    with django_capture_on_commit_callbacks(execute=True):
        tag_rule_save(rule=rule, actor=manager)
    assert rule.created_by == manager and rule.condition["logicalOperator"] == "and"
    assert rule_tagged() == {customer.pk}

    rule.condition = {"tags": {"contains": "无此标签"}}
    with pytest.raises(InvalidCondition):
        tag_rule_save(rule=rule, actor=manager, changed=["condition"])


def test_the_management_command_applies_the_rules(make_customer, make_rule, capsys):
    spend(make_customer(), 5000)
    make_rule("大客户", BIG_SPENDER)
    call_command("apply_tag_rules")
    assert "1 added, 0 removed." in capsys.readouterr().out


def test_an_order_re_evaluates_the_rules_for_its_customer(
    make_customer, make_rule, django_capture_on_commit_callbacks
):
    bystander = make_customer(name="乙")
    make_rule("大客户", BIG_SPENDER)
    with django_capture_on_commit_callbacks(execute=True):
        spend(bystander, 5000)  # changed behind the rules' back: not this order's customer
        order = record_order(
            actor=None,
            source="pos",
            external_id="T-1",
            placed_at=timezone.make_aware(datetime(2025, 1, 20, 12)),
            amount=Decimal("1200"),
            customer_data={"phone": "13900000001", "name": "张三"},
            items=[{"dish": "宫保鸡丁", "category": "川菜", "quantity": 1, "price": 1200}],
        )
    assert rule_tagged() == {order.order.customer_id}


def test_the_nightly_run_is_scheduled():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="profiles.apply_tag_rules")
    assert task.task == "profiles.apply_tag_rules" and task.crontab.hour == "2"


SPENDS = st.lists(st.integers(0, 3000), min_size=1, max_size=12)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(before=SPENDS, after=SPENDS, manual=st.sets(st.integers(0, 11), max_size=4))
def test_rule_tags_are_exactly_the_matching_customers(
    make_customer, make_rule, before, after, manual
):
    """After any history of spends and manual tags, the rule-set tags are exactly the matching
    customers without a manual one, and every manual tag is still there."""
    from customers.models import Tag

    Customer.objects.all().delete()
    Tag.objects.all().delete()
    rule = make_rule("大客户", BIG_SPENDER)
    customers = [make_customer(name=f"客{i}") for i in range(12)]
    manual_ids = {customers[i].pk for i in manual}
    CustomerTag.objects.bulk_create(
        [CustomerTag(customer_id=pk, tag=rule.tag) for pk in manual_ids]
    )
    for spends in (before, after):
        for customer, amount in zip(customers, spends, strict=False):
            spend(customer, amount)
        apply_tag_rules()
    totals = dict(Customer.objects.values_list("pk", "total_spent"))
    matching = {pk for pk, total in totals.items() if total >= 1000}

    assert rule_tagged() == matching - manual_ids
    assert (
        set(
            CustomerTag.objects.filter(tag=rule.tag, source="manual").values_list(
                "customer_id", flat=True
            )
        )
        == manual_ids
    )
