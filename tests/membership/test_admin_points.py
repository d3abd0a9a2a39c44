"""The points ledger and tier changes in the admin: read-only lists of one customer or all, the
"Adjust points" and "Change tier" pages through the services (ledger, LevelChange and audit
events written; refusals shown on the form), benefit usage and the points policy."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import admin_base
from crm.models import AuditEvent
from customers.models import Customer
from membership.models import LevelChange, PointsEntry, PointsPolicy
from membership.services.levels import change_level
from membership.services.points import adjust_points

pytestmark = pytest.mark.django_db

LEDGER_URL = "/admin/membership/pointsentry/"
CHANGES_URL = "/admin/membership/levelchange/"


def adjust_url(customer):
    return f"/admin/membership/pointsentry/adjust/{customer.pk}/"


def change_tier_url(customer):
    return f"/admin/membership/levelchange/change-tier/{customer.pk}/"


def listed(response):
    return list(response.context["cl"].result_list)


def form_of(response):
    return response.context["form"]


@pytest.fixture
def manager(make_user):
    return make_user("manager", roles=["manager"])


@pytest.fixture
def customer(make_customer):
    return make_customer()


def give(customer, points, reason="开卡礼"):
    return adjust_points(customer_id=customer.pk, adjustment=points, reason=reason, actor=None)


# --- the ledger ----------------------------------------------------------------------------


def test_ledger_of_one_customer_newest_first(client, make_user, customer, make_customer):
    give(customer, 100)
    give(customer, -30, reason="兑换")
    give(make_customer(), 5)
    client.force_login(make_user("finance", roles=["finance"]))

    response = client.get(LEDGER_URL, {"customer__id__exact": customer.pk})

    assert response.status_code == 200
    assert [(e.delta, e.balance_after) for e in listed(response)] == [(-30, 70), (100, 100)]
    # Finance may adjust: the list of one customer offers it.
    assert adjust_url(customer) in response.content.decode()


def test_ledger_filters_by_kind_and_searches_by_customer_number(
    client, manager, customer, make_customer
):
    give(customer, 100)
    other = make_customer()
    give(other, 7)
    client.force_login(manager)

    found = listed(client.get(LEDGER_URL, {"q": other.customer_no}))
    assert [e.customer_id for e in found] == [other.pk]
    assert listed(client.get(LEDGER_URL, {"kind__exact": "earn"})) == []
    assert len(listed(client.get(LEDGER_URL, {"kind__exact": "adjust"}))) == 2


def test_ledger_is_read_only_for_everyone(client, manager, customer):
    entry = give(customer, 100).entry
    client.force_login(manager)
    assert client.get(f"{LEDGER_URL}{entry.pk}/change/").status_code == 200
    assert client.get(f"{LEDGER_URL}add/").status_code == 403
    assert client.post(f"{LEDGER_URL}{entry.pk}/change/", {"delta": "5"}).status_code == 403
    assert client.post(f"{LEDGER_URL}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert PointsEntry.objects.get(pk=entry.pk).delta == 100


def test_ledger_is_refused_without_the_view_permission(client, make_user):
    client.force_login(make_user("nobody"))
    assert client.get(LEDGER_URL).status_code == 403


def test_a_large_ledger_is_counted_by_the_planner(client, manager, customer, monkeypatch):
    give(customer, 100)
    monkeypatch.setattr(admin_base, "ESTIMATE_ABOVE", 0)
    client.force_login(manager)

    with CaptureQueriesContext(connection) as queries:
        assert client.get(LEDGER_URL, {"kind__exact": "adjust"}).status_code == 200

    sql = [query["sql"] for query in queries.captured_queries]
    assert any(statement.startswith("EXPLAIN") for statement in sql)
    ledger_counts = [s for s in sql if "COUNT(" in s and "membership_pointsentry" in s]
    assert not ledger_counts


def test_one_customers_ledger_is_counted_exactly(client, manager, customer, monkeypatch):
    give(customer, 100)
    monkeypatch.setattr(admin_base, "ESTIMATE_ABOVE", 0)
    client.force_login(manager)

    with CaptureQueriesContext(connection) as queries:
        client.get(LEDGER_URL, {"customer__id__exact": customer.pk})

    sql = [query["sql"] for query in queries.captured_queries]
    assert not any(statement.startswith("EXPLAIN") for statement in sql)


# --- adjust points -------------------------------------------------------------------------


def test_adjust_points_writes_the_ledger_and_the_audit_event(client, make_user, customer):
    finance = make_user("finance", roles=["finance"])
    client.force_login(finance)
    page = client.get(adjust_url(customer))
    assert page.status_code == 200
    key = form_of(page)["idempotency_key"].value()

    response = client.post(
        adjust_url(customer), {"adjustment": "50", "reason": "补偿", "idempotency_key": key}
    )

    assert response.status_code == 302
    assert response.url.endswith(f"/admin/customers/customer/{customer.pk}/change/#tab-membership")
    entry = PointsEntry.objects.get(customer=customer)
    assert (entry.delta, entry.kind, entry.reason, entry.actor) == (50, "adjust", "补偿", finance)
    assert Customer.objects.get(pk=customer.pk).points == 50
    event = AuditEvent.objects.get(action="points_adjust")
    assert (event.actor, event.summary["adjustment"]) == (finance, 50)


def test_the_same_adjust_form_sent_twice_applies_once(client, manager, customer):
    client.force_login(manager)
    data = {"adjustment": "50", "reason": "补偿", "idempotency_key": "a" * 32}
    client.post(adjust_url(customer), data)
    client.post(adjust_url(customer), data)
    assert Customer.objects.get(pk=customer.pk).points == 50
    assert PointsEntry.objects.filter(customer=customer).count() == 1


def test_deducting_more_than_the_balance_is_shown_on_the_form(client, manager, customer):
    give(customer, 20)
    client.force_login(manager)

    response = client.post(
        adjust_url(customer),
        {"adjustment": "-50", "reason": "纠错", "idempotency_key": "b" * 32},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    assert form_of(response).errors["adjustment"] == [
        "Only 20 points are available; ask for at most that many."
    ]
    assert Customer.objects.get(pk=customer.pk).points == 20
    assert not AuditEvent.objects.filter(action="points_adjust", actor__isnull=False).exists()


def test_a_zero_adjustment_is_refused_on_the_form(client, manager, customer):
    client.force_login(manager)
    response = client.post(
        adjust_url(customer),
        {"adjustment": "0", "reason": "x", "idempotency_key": "c" * 32},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "adjustment" in form_of(response).errors
    assert not PointsEntry.objects.exists()


def test_adjust_points_is_refused_without_the_permission(client, make_user, customer):
    client.force_login(make_user("marketer", roles=["marketing"]))
    assert client.get(adjust_url(customer)).status_code == 403
    data = {"adjustment": "50", "reason": "x", "idempotency_key": "d" * 32}
    assert client.post(adjust_url(customer), data).status_code == 403
    assert not PointsEntry.objects.exists()


def test_adjust_points_of_an_unknown_customer_is_404(client, manager):
    client.force_login(manager)
    assert client.get("/admin/membership/pointsentry/adjust/999999/").status_code == 404


# --- tier changes --------------------------------------------------------------------------


def test_change_tier_writes_the_level_change_and_the_audit_event(client, manager, customer):
    client.force_login(manager)
    page = client.get(change_tier_url(customer))
    assert page.status_code == 200
    offered = [code for code, _label in form_of(page).fields["level"].choices if code]
    assert "regular" not in offered and "vip" in offered  # not the customer's own tier

    response = client.post(change_tier_url(customer), {"level": "vip", "reason": "老客户回馈"})

    assert response.status_code == 302
    change = LevelChange.objects.get(customer=customer)
    assert (change.from_level, change.to_level, change.kind, change.actor) == (
        "regular",
        "vip",
        "manual",
        manager,
    )
    assert Customer.objects.get(pk=customer.pk).level == "vip"
    event = AuditEvent.objects.get(action="level_change")
    assert event.summary == {"from": "regular", "to": "vip", "reason": "老客户回馈"}


def test_change_tier_needs_a_reason(client, manager, customer):
    client.force_login(manager)
    response = client.post(change_tier_url(customer), {"level": "vip", "reason": ""})
    assert response.status_code == 200
    assert "reason" in form_of(response).errors
    assert not LevelChange.objects.exists()


def test_change_tier_is_refused_without_the_permission(client, make_user, customer):
    client.force_login(make_user("agent", roles=["customer_service"]))
    assert client.get(change_tier_url(customer)).status_code == 403
    response = client.post(change_tier_url(customer), {"level": "vip", "reason": "x"})
    assert response.status_code == 403
    assert Customer.objects.get(pk=customer.pk).level == "regular"


def test_tier_changes_list_names_the_tiers_and_is_read_only(client, make_user, manager, customer):
    change = change_level(customer_id=customer.pk, level_code="vip", reason="回馈", actor=manager)
    client.force_login(make_user("agent", roles=["customer_service"]))

    response = client.get(CHANGES_URL, {"customer__id__exact": customer.pk})

    assert [c.pk for c in listed(response)] == [change.pk]
    page = response.content.decode()
    assert "普通会员" in page and "回馈" in page
    assert change_tier_url(customer) not in page  # customer service may not change tiers
    assert client.post(f"{CHANGES_URL}{change.pk}/delete/", {"post": "yes"}).status_code == 403
    client.force_login(manager)
    assert (
        change_tier_url(customer)
        in client.get(CHANGES_URL, {"customer__id__exact": customer.pk}).content.decode()
    )


def test_tier_changes_are_refused_without_the_view_permission(client, make_user):
    client.force_login(make_user("nobody"))
    assert client.get(CHANGES_URL).status_code == 403


# --- benefit usage and the points policy ---------------------------------------------------


def test_benefit_usage_is_read_only(client, manager):
    client.force_login(manager)
    url = "/admin/membership/benefitusage/"
    assert client.get(url).status_code == 200
    assert client.get(f"{url}add/").status_code == 403


def test_points_policy_opens_its_one_row_for_editing(client, manager):
    client.force_login(manager)
    response = client.get("/admin/membership/pointspolicy/")
    assert response.status_code == 302
    assert response.url == f"/admin/membership/pointspolicy/{PointsPolicy.current().pk}/change/"
    assert client.get("/admin/membership/pointspolicy/add/").status_code == 403

    page = client.get(response.url)
    data = {
        name: page.context["adminform"].form[name].value()
        for name in page.context["adminform"].form.fields
    }
    response = client.post(response.url, {**data, "expiring_soon_days": "45"})

    assert response.status_code == 302
    assert PointsPolicy.current().expiring_soon_days == 45
    assert AuditEvent.objects.filter(
        action="update", object_type="membership.pointspolicy"
    ).exists()
    assert (
        client.post("/admin/membership/pointspolicy/1/delete/", {"post": "yes"}).status_code == 403
    )


def test_points_policy_is_view_only_for_finance_and_refused_for_marketing(client, make_user):
    client.force_login(make_user("finance", roles=["finance"]))
    url = f"/admin/membership/pointspolicy/{PointsPolicy.current().pk}/change/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"expiring_soon_days": "1"}).status_code == 403
    client.force_login(make_user("marketer", roles=["marketing"]))
    assert client.get("/admin/membership/pointspolicy/").status_code == 403
