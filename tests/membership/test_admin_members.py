"""The member list in the admin: filters, search by customer number, enrolment through the
service (its 409 shown on the form) and cancellation with a reason."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import AuditEvent
from membership.models import Membership, MembershipLevel
from membership.services.enrollment import enroll

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/membership/membership/"
ADD_URL = "/admin/membership/membership/add/"


@pytest.fixture
def manager(make_user):
    return make_user("manager", roles=["manager"])


@pytest.fixture
def vip():
    return MembershipLevel.objects.get(code="vip")


def listed(response):
    return list(response.context["cl"].result_list)


def test_member_list_loads_for_every_membership_role_and_is_refused_without(
    client, make_user, make_customer, vip
):
    enroll(customer_id=make_customer().pk, level=vip, duration_days=30)
    for role in ("manager", "customer_service", "marketing", "finance", "operations"):
        client.force_login(make_user(role, roles=[role]))
        assert client.get(LIST_URL).status_code == 200, role
    client.force_login(make_user("nobody"))
    assert client.get(LIST_URL).status_code == 403


def test_member_list_filters_and_searches_by_customer_number(client, manager, make_customer, vip):
    first, second = make_customer(name="甲"), make_customer(name="乙")
    enroll(customer_id=first.pk, level=vip, duration_days=30, method="gift", source="店庆")
    svip = MembershipLevel.objects.get(code="svip")
    enroll(customer_id=second.pk, level=svip, duration_days=30, method="purchase")
    client.force_login(manager)

    page = client.get(LIST_URL).content.decode()
    assert first.customer_no in page and "店庆" in page

    by_tier = listed(client.get(LIST_URL, {"level__id__exact": svip.pk}))
    assert [m.customer_id for m in by_tier] == [second.pk]
    by_method = listed(client.get(LIST_URL, {"method__exact": "gift", "status__exact": "active"}))
    assert [m.customer_id for m in by_method] == [first.pk]
    found = listed(client.get(LIST_URL, {"q": first.customer_no.lower()}))
    assert [m.customer_id for m in found] == [first.pk]
    assert listed(client.get(LIST_URL, {"q": "C99999999"})) == []


def test_member_list_queries_do_not_grow_and_never_select_distinct(
    client, manager, make_customer, vip
):
    for _ in range(3):
        enroll(customer_id=make_customer().pk, level=vip, duration_days=30)
    client.force_login(manager)
    client.get(LIST_URL)
    with CaptureQueriesContext(connection) as few:
        client.get(LIST_URL)
    for _ in range(10):
        enroll(customer_id=make_customer().pk, level=vip, duration_days=30)
    with CaptureQueriesContext(connection) as many:
        client.get(LIST_URL)
    assert len(many.captured_queries) == len(few.captured_queries)
    assert not any("DISTINCT" in query["sql"] for query in many.captured_queries)


def test_enrolment_through_the_add_form(client, manager, make_customer, vip):
    customer = make_customer()
    client.force_login(manager)
    # Opened from the customer page, the form has the customer chosen; the customer box
    # searches as the customer list does.
    form = client.get(ADD_URL, {"customer": customer.pk}).context["adminform"].form
    assert form["customer"].value() == str(customer.pk)
    found = client.get(
        "/admin/autocomplete/",
        {
            "app_label": "membership",
            "model_name": "membership",
            "field_name": "customer",
            "term": customer.customer_no,
        },
    ).json()
    assert [item["id"] for item in found["results"]] == [str(customer.pk)]

    response = client.post(
        ADD_URL,
        {
            "customer": customer.pk,
            "level": vip.pk,
            "duration_days": "90",
            "method": "gift",
            "source": "生日礼",
        },
    )

    assert response.status_code == 302
    membership = Membership.objects.get(customer=customer)
    assert (membership.level, membership.method, membership.source, membership.actor) == (
        vip,
        "gift",
        "生日礼",
        manager,
    )
    assert (membership.end_date - membership.start_date).days == 90
    customer.refresh_from_db()
    assert customer.level == "vip"  # a higher tier takes effect at once
    assert AuditEvent.objects.filter(action="enroll", object_id=str(membership.pk)).count() == 1


def test_enrolling_an_active_member_shows_the_409_message_on_the_form(
    client, manager, make_customer, vip
):
    customer = make_customer()
    enroll(customer_id=customer.pk, level=vip, duration_days=30)
    client.force_login(manager)

    response = client.post(
        ADD_URL,
        {"customer": customer.pk, "level": vip.pk, "duration_days": "30", "method": "system"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert "already has an active membership" in errors[0]
    assert Membership.objects.filter(customer=customer).count() == 1
    assert AuditEvent.objects.filter(action="enroll").count() == 1  # the first one only


def test_enrolment_needs_the_enrol_and_add_permissions(client, make_user, make_customer, vip):
    # Customer service may enrol through the API (enroll_member) but not in this admin form.
    client.force_login(make_user("agent", roles=["customer_service"]))
    assert client.get(ADD_URL).status_code == 403
    response = client.post(
        ADD_URL,
        {"customer": make_customer().pk, "level": vip.pk, "duration_days": "30"},
    )
    assert response.status_code == 403
    assert not Membership.objects.exists()


def test_memberships_are_read_only_and_never_deleted(client, manager, make_customer, vip):
    membership = enroll(customer_id=make_customer().pk, level=vip, duration_days=30)
    client.force_login(manager)
    url = f"{LIST_URL}{membership.pk}/change/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"status": "expired"}).status_code == 403
    assert client.post(f"{LIST_URL}{membership.pk}/delete/", {"post": "yes"}).status_code == 403
    membership.refresh_from_db()
    assert membership.status == "active"


def test_cancel_action_asks_for_a_reason_then_cancels(client, manager, make_customer, vip):
    customer = make_customer()
    membership = enroll(customer_id=customer.pk, level=vip, duration_days=30)
    client.force_login(manager)
    selection = {"action": "cancel_selected", "_selected_action": [membership.pk]}

    asked = client.post(LIST_URL, selection, HTTP_ACCEPT_LANGUAGE="en")
    assert asked.status_code == 200
    assert "1 active membership will end today" in asked.content.decode()
    no_reason = client.post(LIST_URL, {**selection, "apply": "1", "reason": ""})
    assert no_reason.status_code == 200
    membership.refresh_from_db()
    assert membership.status == "active"

    done = client.post(LIST_URL, {**selection, "apply": "1", "reason": "客户要求退会"})

    assert done.status_code == 302
    membership.refresh_from_db()
    assert membership.status == "cancelled"
    event = AuditEvent.objects.get(action="update", object_id=str(membership.pk))
    assert event.summary["reason"] == "客户要求退会"


def test_cancel_action_needs_the_change_permission(client, make_user, make_customer, vip):
    membership = enroll(customer_id=make_customer().pk, level=vip, duration_days=30)
    client.force_login(make_user("agent", roles=["customer_service"]))
    response = client.post(
        LIST_URL,
        {
            "action": "cancel_selected",
            "_selected_action": [membership.pk],
            "apply": "1",
            "reason": "x",
        },
    )
    assert response.status_code in (200, 302)  # the admin says "no action selected"
    membership.refresh_from_db()
    assert membership.status == "active"


def test_renew_action_extends_after_the_end_and_shows_the_purchase(
    client, make_user, make_customer, vip
):
    membership = enroll(customer_id=make_customer().pk, level=vip, duration_days=30)
    end = membership.end_date
    client.force_login(make_user("agent", roles=["customer_service"]))
    selection = {"action": "renew_selected", "_selected_action": [membership.pk]}

    asked = client.post(LIST_URL, selection, HTTP_ACCEPT_LANGUAGE="en")
    assert "the time left is kept" in asked.content.decode()
    done = client.post(
        LIST_URL,
        {
            **selection,
            "apply": "1",
            "duration_days": "365",
            "method": "purchase",
            "payment_reference": "pos-8841",
        },
    )

    assert done.status_code == 302
    membership.refresh_from_db()
    assert (membership.end_date - end).days == 365
    page = client.get(f"{LIST_URL}{membership.pk}/change/").content.decode()
    assert "pos-8841" in page


def test_renew_action_refuses_one_payment_reference_for_several(
    client, manager, make_customer, vip
):
    first, second = (
        enroll(customer_id=make_customer().pk, level=vip, duration_days=30) for _ in range(2)
    )
    client.force_login(manager)

    response = client.post(
        LIST_URL,
        {
            "action": "renew_selected",
            "_selected_action": [first.pk, second.pk],
            "apply": "1",
            "duration_days": "30",
            "method": "purchase",
            "payment_reference": "pos-1",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    assert "A payment reference pays for one membership." in response.content.decode()
    first.refresh_from_db()
    assert first.end_date == first.start_date + timedelta(days=30)


def test_renew_action_needs_the_enrol_permission(client, make_user, make_customer, vip):
    membership = enroll(customer_id=make_customer().pk, level=vip, duration_days=30)
    end = membership.end_date
    client.force_login(make_user("auditor", roles=["finance"]))

    client.post(
        LIST_URL,
        {
            "action": "renew_selected",
            "_selected_action": [membership.pk],
            "apply": "1",
            "duration_days": "30",
            "method": "gift",
        },
    )

    membership.refresh_from_db()
    assert membership.end_date == end
