"""The customer page's "Membership" tab, which membership registers in the core's registry of
customer-page panels (customers.panels): tier, membership, points, the latest ledger
entries and tier changes, links by permission, and a fixed number of queries."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers import panels as admin_panels
from membership.models import MembershipLevel, PointsEntry
from membership.services.enrollment import enroll
from membership.services.levels import change_level
from membership.services.points import adjust_points

pytestmark = pytest.mark.django_db

TAB = '<button type="button" role="tab" id="crm-tab-membership"'


def page_of(client, customer):
    response = client.get(
        f"/admin/customers/customer/{customer.pk}/change/", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    return response.content.decode()


def give(customer, points, reason):
    return adjust_points(customer_id=customer.pk, adjustment=points, reason=reason, actor=None)


@pytest.fixture
def manager(make_user):
    return make_user("manager", roles=["manager"])


@pytest.fixture
def member(make_customer, manager):
    """A VIP member with 12 ledger entries (70 points of them expiring soon) and a tier change."""
    customer = make_customer()
    change_level(customer_id=customer.pk, level_code="member", reason="试用", actor=manager)
    enroll(
        customer_id=customer.pk,
        level=MembershipLevel.objects.get(code="vip"),
        duration_days=365,
        method="gift",
        source="店庆",
        actor=manager,
    )
    for number in range(12):
        give(customer, 10, f"记录{number:02}")
    soon = timezone.localdate() + timedelta(days=10)
    oldest = PointsEntry.objects.filter(customer=customer).order_by("id")[:7]
    PointsEntry.objects.filter(pk__in=[entry.pk for entry in oldest]).update(expires_on=soon)
    return customer


def test_manager_sees_tier_membership_points_ledger_and_changes(client, manager, member):
    client.force_login(manager)
    page = page_of(client, member)

    assert TAB in page and ">Membership</button>" in page
    assert "VIP from " in page and "店庆" in page
    assert "120" in page and "70 expire by " in page
    # The last ten entries, newest first, and a link to the rest.
    assert "记录11" in page and "记录02" in page and "记录01" not in page
    assert f"/admin/membership/pointsentry/?customer__id__exact={member.pk}" in page
    # Tier changes: the manual one and the enrolment's, with a link to all.
    # The reason was written in the default language (Chinese), whoever reads it.
    assert "试用" in page and "开通会员（赠送），有效期 365 天" in page
    assert f"/admin/membership/levelchange/?customer__id__exact={member.pk}" in page
    assert f"/admin/membership/pointsentry/adjust/{member.pk}/" in page
    assert f"/admin/membership/levelchange/change-tier/{member.pk}/" in page


def test_customer_service_sees_the_tab_without_the_links_to_act(client, make_user, member):
    client.force_login(make_user("agent", roles=["customer_service"]))
    page = page_of(client, member)
    assert TAB in page and "记录11" in page
    assert "/adjust/" not in page and "/change-tier/" not in page


def test_finance_may_adjust_points_but_not_change_the_tier(client, make_user, member):
    client.force_login(make_user("finance", roles=["finance"]))
    page = page_of(client, member)
    assert f"/admin/membership/pointsentry/adjust/{member.pk}/" in page
    assert "/change-tier/" not in page


def test_a_customer_without_membership_offers_enrolment(client, manager, make_customer):
    customer = make_customer()
    client.force_login(manager)
    page = page_of(client, customer)
    assert "No active membership." in page and "No points yet." in page
    assert f"/admin/membership/membership/add/?customer={customer.pk}" in page


def test_no_tab_without_the_membership_view_permission(client, make_user, member):
    viewer = make_user("viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(viewer)
    page = page_of(client, member)
    assert TAB not in page and "记录11" not in page


def test_the_tab_costs_a_fixed_number_of_queries(client, manager, member, make_customer):
    newcomer = make_customer()
    client.force_login(manager)
    page_of(client, newcomer)  # warms the cached tier names

    with CaptureQueriesContext(connection) as small:
        page_of(client, newcomer)
    with CaptureQueriesContext(connection) as large:
        page_of(client, member)
    panels = admin_panels._panels
    admin_panels._panels = {key: panel for key, panel in panels.items() if key != "membership"}
    try:
        with CaptureQueriesContext(connection) as without:
            page_of(client, member)
    finally:
        admin_panels._panels = panels

    # The same count for a customer with a long history as for a new one ...
    assert len(large.captured_queries) == len(small.captured_queries)
    # ... and six for the tab: membership, grace period, points policy, points expiring
    # soon, ledger entries, tier changes.
    assert len(large.captured_queries) - len(without.captured_queries) == 6
