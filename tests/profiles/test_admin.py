"""The behaviour events' admin: read-only, filtered by type and channel, never a COUNT(*) of the
unfiltered table once it is large.

The tag rule screens: marketing adds a rule (its condition checked by the engine, applied on
save) and applies rules now; the customer tag list shows who set each tag."""

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import AuditEvent
from crm.roles import MANAGER, OPERATIONS
from customers.models import Customer, CustomerTag, Tag
from profiles import admin as events_admin
from profiles.models import BehaviourEvent, TagRule

pytestmark = pytest.mark.django_db

URL = "/admin/profiles/behaviourevent/"


@pytest.fixture
def stored(make_customer):
    guest = make_customer()
    return BehaviourEvent.objects.create(
        customer=guest,
        type="share",
        channel="web",
        device="pc",
        occurred_at=timezone.now(),
        ip_prefix="203.0.113.0/24",
    )


def test_managers_read_the_events_filtered_and_cannot_change_them(client, make_user, stored):
    client.force_login(make_user("boss", roles=[MANAGER]))

    page = client.get(URL, {"type__exact": "share", "channel__exact": "web"})

    assert page.status_code == 200
    assert "203.0.113.0/24" in page.content.decode()
    assert client.get(f"{URL}add/").status_code == 403
    detail = client.get(f"{URL}{stored.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()


def test_operations_do_not_read_them(client, make_user, stored):
    client.force_login(make_user("ops", roles=[OPERATIONS]))

    assert client.get(URL).status_code == 403


def test_a_large_table_is_not_counted(client, make_user, stored, monkeypatch):
    monkeypatch.setattr(events_admin, "estimated_event_rows", lambda: 5_000_000)
    client.force_login(make_user("boss", roles=[MANAGER]))

    with CaptureQueriesContext(connection) as captured:
        page = client.get(URL)

    assert page.status_code == 200
    counts = [
        q["sql"]
        for q in captured.captured_queries
        if "COUNT(" in q["sql"] and "profiles_behaviourevent" in q["sql"]
    ]
    assert counts == []


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
