"""Communication records and follow-up reminders (spec 2.5.4): recording, the follow-up lists,
marking done, permissions, the customer detail and the admin's interactions tab."""

from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from crm.models import AuditEvent
from customers.models import Communication
from customers.selectors import customer_communications, follow_ups_due
from customers.services.communications import communication_record
from customers.services.follow_ups import NotYourFollowUp, follow_up_mark_done
from customers.services.orders import record_order
from tests.customers.test_performance_guards import plan

pytestmark = pytest.mark.django_db


def at(text: str) -> datetime:
    """A moment in the server's time zone: at("2026-03-10 09:00")."""
    return timezone.make_aware(datetime.fromisoformat(text))


@contextmanager
def frozen(moment: datetime):
    """timezone.now() returns `moment` (the code reads the clock only through it)."""
    with patch("django.utils.timezone.now", return_value=moment):
        yield


def place_order(customer, number=1):
    return record_order(
        actor=None,
        source="pos",
        external_id=f"POS-{customer.pk}-{number}",
        placed_at=timezone.now() - timedelta(days=1),
        amount=Decimal("88.00"),
        customer_id=customer.pk,
        items=[{"dish": "宫保鸡丁", "quantity": 1, "price": Decimal("88.00")}],
    ).order


def record(customer, staff, *, follow_up_at=None, content="问了会员积分", **extra):
    return communication_record(
        customer=customer,
        actor=staff,
        channel=extra.pop("channel", "phone"),
        content=content,
        result=extra.pop("result", "已解答"),
        follow_up_at=follow_up_at,
        **extra,
    )


@pytest.fixture
def agent(make_user):
    return make_user("agent", roles=["customer_service"])


# --- recording -----------------------------------------------------------------------------


def test_record_without_order_or_follow_up_is_owned_by_the_actor_and_audited(make_customer, agent):
    customer = make_customer()

    communication = record(customer, agent, content="  咨询包间  ")

    assert communication.staff == agent
    assert communication.content == "咨询包间"
    assert communication.order is None and communication.follow_up_at is None
    event = AuditEvent.objects.get(object_type="customers.communication")
    assert event.action == "create" and event.actor == agent
    assert "咨询包间" not in str(event.summary)


def test_record_with_order_and_follow_up_through_the_api(api_client, make_customer, agent):
    customer = make_customer()
    order = place_order(customer)
    follow_up = timezone.now() + timedelta(days=2)

    response = api_client(agent).post(
        f"/api/v1/customers/{customer.pk}/communications",
        {
            "channel": "in_person",
            "content": "菜品偏咸",
            "result": "赠送甜品",
            "orderId": str(order.pk),
            "followUpAt": follow_up.isoformat(),
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    data = response.json()["data"]
    assert set(data) == {
        "id",
        "channel",
        "content",
        "result",
        "orderId",
        "staff",
        "occurredAt",
        "followUpAt",
        "followUpOwner",
        "followUpDoneAt",
        "createdAt",
    }
    assert data["orderId"] == str(order.pk)
    assert data["staff"] == data["followUpOwner"] == "agent"
    assert data["followUpDoneAt"] is None
    assert Communication.objects.get(pk=data["id"]).follow_up_at == follow_up


def test_order_of_another_customer_is_refused_on_order_id(api_client, make_customer, agent):
    customer, other = make_customer(), make_customer(name="李四")
    their_order = place_order(other)

    response = api_client(agent).post(
        f"/api/v1/customers/{customer.pk}/communications",
        {"channel": "phone", "content": "c", "result": "r", "orderId": str(their_order.pk)},
        format="json",
    )

    assert response.status_code == 400
    assert "orderId" in response.json()["error"]["fields"]
    assert not Communication.objects.exists()


def test_unknown_order_is_refused_on_order_id(api_client, make_customer, agent):
    customer = make_customer()
    response = api_client(agent).post(
        f"/api/v1/customers/{customer.pk}/communications",
        {"channel": "phone", "content": "c", "result": "r", "orderId": "999999"},
        format="json",
    )
    assert response.status_code == 400
    assert "orderId" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "phone", "result": "r"}, "content"),
        ({"channel": "phone", "content": "c"}, "result"),
        ({"channel": "fax", "content": "c", "result": "r"}, "channel"),
    ],
)
def test_missing_or_invalid_fields_are_field_errors(api_client, make_customer, agent, body, field):
    customer = make_customer()
    response = api_client(agent).post(
        f"/api/v1/customers/{customer.pk}/communications", body, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_blank_content_is_refused_by_the_service(make_customer, agent):
    with pytest.raises(ValidationError) as refused:
        record(make_customer(), agent, content="   ")
    assert "content" in refused.value.message_dict


def test_follow_up_in_the_past_is_refused_with_a_clear_error(api_client, make_customer, agent):
    customer = make_customer()
    response = api_client(agent).post(
        f"/api/v1/customers/{customer.pk}/communications",
        {
            "channel": "phone",
            "content": "c",
            "result": "r",
            "followUpAt": (timezone.now() - timedelta(hours=1)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert "in the past" in error["fields"]["followUpAt"][0]


def test_list_is_paginated_newest_first(api_client, make_customer, agent):
    customer = make_customer()
    for number in range(3):
        record(customer, agent, content=f"第{number}次")
    record(make_customer(name="李四"), agent, content="别人的")

    response = api_client(agent).get(
        f"/api/v1/customers/{customer.pk}/communications", {"limit": 2}
    )

    data = response.json()["data"]
    assert [item["content"] for item in data["items"]] == ["第2次", "第1次"]
    assert data["pagination"]["total"] == 3 and data["pagination"]["totalPages"] == 2


@pytest.mark.parametrize(
    ("role", "get_status", "post_status"),
    [
        ("customer_service", 200, 201),
        ("manager", 200, 201),
        ("marketing", 200, 403),
        ("operations", 200, 403),
        ("finance", 403, 403),
    ],
)
def test_permissions_by_role(api_client, make_user, make_customer, role, get_status, post_status):
    customer = make_customer()
    client = api_client(make_user(roles=[role]))
    url = f"/api/v1/customers/{customer.pk}/communications"

    assert client.get(url).status_code == get_status
    body = {"channel": "online", "content": "c", "result": "r"}
    assert client.post(url, body, format="json").status_code == post_status


# --- the customer detail -------------------------------------------------------------------


def test_detail_shows_the_five_most_recent_communications(
    api_client, make_customer, agent, manager, django_assert_max_num_queries
):
    customer = make_customer()
    order = place_order(customer)
    for number in range(7):
        record(customer, agent, content=f"第{number}次", order=order if number == 6 else None)

    # the detail's queries (test_performance_guards) + the order's items; the communications
    # with their staff and orders are one of them
    with django_assert_max_num_queries(13):
        response = api_client(manager).get(f"/api/v1/customers/{customer.pk}")

    shown = response.json()["data"]["communications"]
    assert [item["content"] for item in shown] == ["第6次", "第5次", "第4次", "第3次", "第2次"]
    assert shown[0]["orderId"] == str(order.pk) and shown[0]["staff"] == "agent"


def test_detail_hides_communications_from_roles_that_may_not_see_them(
    api_client, make_user, make_customer, agent
):
    customer = make_customer()
    record(customer, agent)
    finance = make_user("finance", roles=["finance"])

    response = api_client(finance).get(f"/api/v1/customers/{customer.pk}")

    assert response.status_code == 200
    assert response.json()["data"]["communications"] == []


# --- follow-up lists -----------------------------------------------------------------------

NOW = "2026-03-10 10:00"
FOLLOW_UPS = {
    "yesterday_late": "2026-03-09 23:59",
    "midnight": "2026-03-10 00:00",
    "this_morning": "2026-03-10 09:00",
    "tonight": "2026-03-10 23:59",
    "tomorrow": "2026-03-11 00:00",
    "in_6_days": "2026-03-17 09:59",
    "in_7_days": "2026-03-17 10:00",
}


@pytest.fixture
def follow_ups(make_customer, make_user, agent):
    """`agent`'s follow-ups at FOLLOW_UPS, recorded a month before NOW, plus a colleague's
    and a done one due today that no list shows."""
    customer = make_customer()
    colleague = make_user("colleague", roles=["customer_service"])
    with frozen(at("2026-02-10 10:00")):
        recorded = {
            name: record(customer, agent, content=name, follow_up_at=at(moment))
            for name, moment in FOLLOW_UPS.items()
        }
        record(customer, colleague, content="colleague's", follow_up_at=at("2026-03-10 12:00"))
        done = record(customer, agent, content="done", follow_up_at=at("2026-03-10 12:00"))
        follow_up_mark_done(communication=done, actor=agent)
    return recorded


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        ("today", ["midnight", "this_morning", "tonight"]),
        ("overdue", ["yesterday_late", "midnight", "this_morning"]),
        ("week", ["tonight", "tomorrow", "in_6_days"]),
    ],
)
def test_follow_up_windows_and_their_boundaries(follow_ups, agent, due, expected):
    due_now = follow_ups_due(owner=agent, due=due, now=at(NOW))
    assert [item.content for item in due_now] == expected


def test_follow_up_list_api_defaults_to_today_and_masks_phones(
    api_client, make_user, make_customer, django_assert_max_num_queries
):
    viewer = make_user("viewer")
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_communication", "add_communication"])
    )
    customer = make_customer(name="王芳", phone="13912345678")
    with frozen(at("2026-03-01 10:00")):
        for hour in (9, 11, 15):
            record(customer, viewer, follow_up_at=at(f"2026-03-10 {hour:02}:00"))
        record(customer, viewer, follow_up_at=at("2026-03-11 09:00"))

    with frozen(at(NOW)), django_assert_max_num_queries(6):
        response = api_client(viewer).get("/api/v1/follow-ups")

    items = response.json()["data"]["items"]
    assert [item["followUpAt"][11:16] for item in items] == ["09:00", "11:00", "15:00"]
    assert items[0]["customer"] == {"id": str(customer.pk), "name": "王芳", "phone": "139****5678"}
    assert items[0]["channel"] == "phone" and items[0]["content"] == "问了会员积分"
    assert not AuditEvent.objects.filter(action="reveal_pii").exists()


def test_follow_up_list_reveals_phones_to_those_allowed_and_audits_it(
    api_client, make_customer, agent
):
    customer = make_customer(phone="13912345678")
    with frozen(at("2026-03-01 10:00")):
        record(customer, agent, follow_up_at=at("2026-03-10 09:00"))

    with frozen(at(NOW)):
        response = api_client(agent).get("/api/v1/follow-ups", {"due": "overdue"})

    assert response.json()["data"]["items"][0]["customer"]["phone"] == "13912345678"
    event = AuditEvent.objects.get(action="reveal_pii")
    assert event.summary == {"context": "follow_ups"}


def test_unknown_due_value_is_a_field_error(api_client, agent):
    response = api_client(agent).get("/api/v1/follow-ups", {"due": "tomorrow"})
    assert response.status_code == 400
    assert "due" in response.json()["error"]["fields"]


def test_finance_has_no_follow_up_list(api_client, make_user):
    finance = make_user("finance", roles=["finance"])
    assert api_client(finance).get("/api/v1/follow-ups").status_code == 403


# --- marking done --------------------------------------------------------------------------


def test_marking_done_removes_it_from_the_list_and_is_idempotent(api_client, make_customer, agent):
    customer = make_customer()
    communication = record(customer, agent, follow_up_at=timezone.now() + timedelta(hours=1))
    client = api_client(agent)
    assert len(client.get("/api/v1/follow-ups", {"due": "week"}).json()["data"]["items"]) == 1

    first = client.post(f"/api/v1/follow-ups/{communication.pk}/done")
    again = client.post(f"/api/v1/follow-ups/{communication.pk}/done")

    assert first.status_code == again.status_code == 200
    assert first.json()["data"]["followUpDoneAt"] == again.json()["data"]["followUpDoneAt"]
    assert client.get("/api/v1/follow-ups", {"due": "week"}).json()["data"]["items"] == []
    assert AuditEvent.objects.filter(action="update", object_id=str(communication.pk)).count() == 1


def test_only_the_owner_or_someone_who_may_change_communications_marks_done(
    api_client, make_user, make_customer, agent
):
    customer = make_customer()
    communication = record(customer, agent, follow_up_at=timezone.now() + timedelta(hours=1))
    marketer = make_user("marketer", roles=["marketing"])
    colleague = make_user("colleague", roles=["customer_service"])

    refused = api_client(marketer).post(f"/api/v1/follow-ups/{communication.pk}/done")
    with pytest.raises(NotYourFollowUp):
        follow_up_mark_done(communication=communication, actor=marketer)
    accepted = api_client(colleague).post(f"/api/v1/follow-ups/{communication.pk}/done")

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "not_your_follow_up"
    assert accepted.status_code == 200


def test_a_communication_without_follow_up_cannot_be_marked_done(api_client, make_customer, agent):
    communication = record(make_customer(), agent)
    response = api_client(agent).post(f"/api/v1/follow-ups/{communication.pk}/done")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_follow_up"


# --- index use -----------------------------------------------------------------------------


@pytest.mark.parametrize("due", ["today", "overdue", "week"])
def test_follow_up_lists_use_the_partial_index(follow_ups, agent, due):
    query_plan = plan(follow_ups_due(owner=agent, due=due, now=at(NOW)))
    assert "communication_followup_idx" in query_plan
    assert "Seq Scan" not in query_plan


def test_a_customers_communications_walk_their_index_newest_first(make_customer, agent):
    customer = make_customer()
    record(customer, agent)
    # On a table this small a bitmap scan and a sort look as cheap; rule bitmaps out to see
    # whether the index alone gives the order.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        query_plan = plan(customer_communications(customer_id=customer.pk)[:20])
    assert "communication_customer_idx" in query_plan
    assert '"Node Type": "Sort"' not in query_plan


# --- admin ---------------------------------------------------------------------------------


def customer_page(client, customer):
    page = client.get(f"/admin/customers/customer/{customer.pk}/change/", HTTP_ACCEPT_LANGUAGE="en")
    return page.content.decode()


def test_interactions_tab_lists_communications_newest_first_with_add_link(
    client, make_customer, agent
):
    customer = make_customer()
    order = place_order(customer)
    record(customer, agent, content="第一次来电")
    record(customer, agent, content="第二次来电", order=order)
    client.force_login(agent)

    page = customer_page(client, customer)

    assert page.index("第二次来电") < page.index("第一次来电")
    assert f"POS-{customer.pk}-1" in page
    assert f"/admin/customers/communication/add/?customer={customer.pk}" in page
    assert f"customer__id__exact={customer.pk}&amp;follow_up=all" in page
    assert 'id="notes-group"' in page


def test_interactions_tab_shows_the_latest_fifty_and_links_to_all(
    client, make_customer, agent, django_assert_max_num_queries
):
    customer = make_customer()
    Communication.objects.bulk_create(
        Communication(
            customer=customer,
            channel="phone",
            content=f"记录{number:02}",
            result="r",
            staff=agent,
            created_at=at("2026-01-01 10:00") + timedelta(minutes=number),
        )
        for number in range(55)
    )
    client.force_login(agent)

    # 16 + the membership tab's 6 (tests/membership/test_admin_customer_panel.py) + the
    # portrait tab's 4 (tests/profiles/test_portrait_admin.py).
    with django_assert_max_num_queries(16 + 6 + 4):
        page = customer_page(client, customer)

    assert "记录54" in page and "记录05" in page and "记录04" not in page
    assert "the latest 50 are shown here" in page


def test_interactions_tab_says_when_communications_are_hidden(
    client, make_user, make_customer, agent
):
    customer = make_customer()
    record(customer, agent, content="秘密")
    client.force_login(make_user("finance", roles=["finance"]))

    page = customer_page(client, customer)

    assert "秘密" not in page
    assert "You may not see this customer" in page


def test_admin_add_form_records_through_the_service_and_returns_to_the_customer(
    client, make_customer, agent
):
    customer = make_customer()
    client.force_login(agent)
    form = client.get(f"/admin/customers/communication/add/?customer={customer.pk}")
    assert form.status_code == 200

    response = client.post(
        f"/admin/customers/communication/add/?customer={customer.pk}",
        {"customer": customer.pk, "channel": "phone", "content": "回访", "result": "满意"},
    )

    assert response.status_code == 302
    assert response["Location"].endswith(f"/customer/{customer.pk}/change/#tab-interactions")
    communication = Communication.objects.get()
    assert communication.staff == agent
    assert AuditEvent.objects.filter(action="create", object_id=str(communication.pk)).count() == 1
    # Records are not edited: their page is read-only.
    shown = client.get(f"/admin/customers/communication/{communication.pk}/change/")
    assert shown.status_code == 200 and 'name="content"' not in shown.content.decode()


def test_admin_add_form_shows_the_service_errors(client, make_customer, agent):
    customer, other = make_customer(), make_customer(name="李四")
    their_order = place_order(other)
    client.force_login(agent)

    response = client.post(
        "/admin/customers/communication/add/",
        {"customer": customer.pk, "channel": "phone", "content": "c", "result": "r",
         "order": their_order.pk},
        HTTP_ACCEPT_LANGUAGE="en",
    )  # fmt: skip

    assert response.status_code == 200
    assert "belongs to another customer" in response.content.decode()
    assert not Communication.objects.exists()


def test_admin_changelist_shows_my_due_follow_ups_and_marks_them_done(
    client, make_customer, make_user, agent
):
    customer = make_customer()
    with frozen(timezone.now() - timedelta(days=3)):
        overdue = record(customer, agent, content="逾期回访", follow_up_at=timezone.now())
    later = record(
        customer, agent, content="下周回访", follow_up_at=timezone.now() + timedelta(days=5)
    )
    colleague = make_user("colleague", roles=["customer_service"])
    record(
        customer,
        colleague,
        content="同事的回访",
        follow_up_at=timezone.now() + timedelta(minutes=5),
    )
    client.force_login(agent)

    default = client.get("/admin/customers/communication/").content.decode()
    week = client.get("/admin/customers/communication/", {"follow_up": "week"}).content.decode()
    client.post(
        "/admin/customers/communication/",
        {"action": "mark_follow_up_done", "_selected_action": [overdue.pk]},
    )
    after = client.get("/admin/customers/communication/").content.decode()

    assert "逾期回访" in default and "下周回访" not in default and "同事的回访" not in default
    assert "下周回访" in week and "逾期回访" not in week
    overdue.refresh_from_db()
    assert overdue.follow_up_done_at is not None
    assert "逾期回访" not in after
    later.refresh_from_db()
    assert later.follow_up_done_at is None
