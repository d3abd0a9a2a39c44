"""The access log of reads (crm.access_log): every response that shows customer records is one
row naming the customers it showed, masked or not, written in one INSERT after the view."""

import itertools
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.access_log import register_read
from crm.models import AccessLog
from customers.models import Communication, CustomerNote
from customers.services import customer_create
from customers.services.addresses import address_add
from customers.services.orders import record_order
from membership.services.points import adjust_points

pytestmark = pytest.mark.django_db

_phones = itertools.count(13900000001)


def customers(count: int):
    return [
        customer_create(actor=None, name=f"客户{n}", phone=str(next(_phones))) for n in range(count)
    ]


@pytest.fixture
def marketer(make_user):
    # Marketing sees customers with phone and e-mail masked.
    return make_user("marketer", roles=["marketing"])


@pytest.fixture
def manager(make_user):
    return make_user("boss", roles=["manager"])


def only_entry():
    entries = list(AccessLog.objects.all())
    assert len(entries) == 1, entries
    return entries[0]


def access_log_inserts(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith('INSERT INTO "crm_accesslog"')]


def test_a_masked_list_read_is_one_row_naming_every_customer_on_the_page(api_client, marketer):
    shown = customers(3)

    response = api_client(marketer).get("/api/v1/customers", REMOTE_ADDR="192.0.2.7")

    assert response.status_code == 200
    entry = only_entry()
    assert sorted(entry.customer_ids) == sorted(c.pk for c in shown)
    assert entry.count == 3
    assert entry.actor == marketer
    assert entry.action == "api:customer-list"
    assert entry.method == "GET"
    assert entry.ip == "192.0.2.7"


def test_a_list_request_adds_exactly_one_insert_however_many_rows_it_shows(api_client, marketer):
    customers(2)
    client = api_client(marketer)
    client.get("/api/v1/customers")  # the user's permissions are loaded once, here
    with CaptureQueriesContext(connection) as small:
        client.get("/api/v1/customers")
    customers(18)
    with CaptureQueriesContext(connection) as large:
        client.get("/api/v1/customers")

    assert len(access_log_inserts(small.captured_queries)) == 1
    assert len(access_log_inserts(large.captured_queries)) == 1
    # Not one query more for nine times the rows.
    assert len(large.captured_queries) == len(small.captured_queries)
    assert AccessLog.objects.order_by("id").last().count == 20


def test_the_detail_and_a_customers_orders_notes_and_communications_are_logged(api_client, manager):
    (customer,) = customers(1)
    record_order(
        actor=None,
        source="pos",
        external_id="A-1",
        placed_at=timezone.now(),
        amount=Decimal("88.00"),
        customer_id=customer.pk,
        items=[{"dish": "面", "quantity": 1, "price": Decimal("88.00")}],
    )
    CustomerNote.objects.create(customer=customer, body="喜欢靠窗")
    Communication.objects.create(customer=customer, channel="phone", content="回访", result="好")
    client = api_client(manager)

    for path in ("", "/orders", "/notes", "/communications"):
        assert client.get(f"/api/v1/customers/{customer.pk}{path}").status_code == 200

    entries = AccessLog.objects.order_by("id")
    assert [(e.action, e.customer_ids, e.count) for e in entries] == [
        ("api:customer-detail", [customer.pk], 1),
        ("api:customer-order-list", [customer.pk], 1),
        ("api:customer-notes", [customer.pk], 1),
        ("api:customer-communication-list", [customer.pk], 1),
    ]


def test_an_empty_page_and_a_refused_request_log_nothing(api_client, marketer, make_user):
    api_client(marketer).get("/api/v1/customers")
    (customer,) = customers(1)
    api_client(make_user("nobody")).get(f"/api/v1/customers/{customer.pk}")

    assert not AccessLog.objects.exists()


def test_the_admin_changelist_and_change_view_are_logged(client, marketer):
    shown = customers(2)
    client.force_login(marketer)

    assert client.get("/admin/customers/customer/").status_code == 200
    assert client.get(f"/admin/customers/customer/{shown[0].pk}/change/").status_code == 200

    entries = AccessLog.objects.order_by("id")
    assert [(e.action, sorted(e.customer_ids)) for e in entries] == [
        ("admin:customers_customer_changelist", sorted(c.pk for c in shown)),
        ("admin:customers_customer_change", [shown[0].pk]),
    ]
    assert {e.actor_id for e in entries} == {marketer.pk}


def test_admin_lists_and_pages_of_customers_rows_are_logged(client, manager):
    first, second = customers(2)
    address = address_add(customer=first, actor=None, recipient="张三", detail="人民路1号")
    Communication.objects.create(customer=second, channel="phone", content="回访", result="好")
    adjust_points(customer_id=second.pk, adjustment=10, reason="seed", actor=None)
    client.force_login(manager)

    for url in (
        "/admin/customers/address/",
        f"/admin/customers/address/{address.pk}/change/",
        "/admin/customers/communication/?follow_up=all",
        "/admin/membership/pointsentry/",
    ):
        assert client.get(url).status_code == 200, url

    entries = AccessLog.objects.order_by("id")
    assert [(e.action, e.customer_ids) for e in entries] == [
        ("admin:customers_address_changelist", [first.pk]),
        ("admin:customers_address_change", [first.pk]),
        ("admin:customers_communication_changelist", [second.pk]),
        ("admin:membership_pointsentry_changelist", [second.pk]),
    ]


def test_reads_registered_twice_in_one_request_are_merged_into_one_row(rf):
    from crm.request_context import RequestContextMiddleware

    def view(request):
        register_read(customer_ids=[1, 2])
        register_read(customer_ids=[2, 3], count=5)
        from django.http import HttpResponse

        return HttpResponse()

    RequestContextMiddleware(view)(rf.get("/"))

    entry = only_entry()
    assert entry.customer_ids == [1, 2, 3]
    assert entry.count == 7


# --- the access log's admin -----------------------------------------------------------------


def test_managers_read_the_access_log_in_the_admin_and_nobody_edits_it(client, manager):
    first, second = customers(2)
    register_read(customer_ids=[first.pk])
    register_read(customer_ids=[second.pk])
    client.force_login(manager)

    everything = client.get("/admin/crm/accesslog/")
    one_customer = client.get(f"/admin/crm/accesslog/?q={second.pk}")
    entry = AccessLog.objects.get(customer_ids=[second.pk])

    assert everything.status_code == 200
    assert list(one_customer.context["cl"].result_list) == [entry]
    assert client.get("/admin/crm/accesslog/add/").status_code == 403
    assert client.get(f"/admin/crm/accesslog/{entry.pk}/change/").status_code == 200
    assert client.post(f"/admin/crm/accesslog/{entry.pk}/delete/").status_code == 403


def test_the_access_log_is_the_managers_alone(client, marketer):
    client.force_login(marketer)

    assert client.get("/admin/crm/accesslog/").status_code == 403
    assert marketer.has_perm("crm.view_accesslog") is False


def test_the_manager_role_holds_the_access_log_view_permission(manager):
    assert manager.has_perm("crm.view_accesslog")
