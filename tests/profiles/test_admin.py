"""The tag rule screens: marketing adds a rule (its condition checked by the engine, applied on
save) and applies rules now; the customer tag list shows who set each tag."""

import json
from decimal import Decimal

import pytest

from crm.models import AuditEvent
from customers.models import Customer, CustomerTag, Tag
from profiles.models import TagRule

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketing_client(client, make_user):
    client.force_login(make_user("marketer", roles=["marketing"]))
    return client


def add_rule(client, condition, callbacks):
    tag = Tag.objects.get_or_create(name="大客户")[0]
    with callbacks(execute=True):
        return client.post(
            "/admin/profiles/tagrule/add/",
            {
                "tag": tag.pk,
                "condition": json.dumps(condition),
                "confidence": "0.9",
                "active": "on",
                "description": "",
            },
        )


def test_marketing_adds_a_rule_that_tags_at_once(
    marketing_client, make_customer, django_capture_on_commit_callbacks
):
    customer = make_customer()
    Customer.objects.filter(pk=customer.pk).update(total_spent=Decimal(3000))

    response = add_rule(
        marketing_client, {"totalSpent": {"gte": 1000}}, django_capture_on_commit_callbacks
    )

    assert response.status_code == 302
    link = CustomerTag.objects.get(customer=customer)
    assert (link.source, link.confidence) == ("rule", Decimal("0.90"))
    assert AuditEvent.objects.filter(object_type="profiles.tagrule", action="create").exists()
    page = marketing_client.get("/admin/customers/customertag/")
    assert page.status_code == 200 and "0.90" in page.content.decode()


def test_a_bad_condition_is_shown_and_nothing_saved(
    marketing_client, django_capture_on_commit_callbacks
):
    response = add_rule(
        marketing_client, {"tags": {"contains": "无此标签"}}, django_capture_on_commit_callbacks
    )
    assert response.status_code == 200
    assert "无此标签" in response.content.decode()
    assert not TagRule.objects.exists()


def test_the_apply_now_action(marketing_client, make_customer, make_rule):
    customer = make_customer()
    rule = make_rule("常客", {"orderCount": {"gte": 0}})
    response = marketing_client.post(
        "/admin/profiles/tagrule/",
        {"action": "apply_selected", "_selected_action": [rule.pk]},
        follow=True,
    )
    assert "已执行 1 条规则：添加 1 个标签，移除 0 个。" in response.content.decode()
    assert CustomerTag.objects.filter(customer=customer, tag=rule.tag, source="rule").exists()
