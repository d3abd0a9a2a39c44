"""The segment endpoints of spec 4.3 and around them: list, create, change, delete, preview,
members, refresh, analysis, the condition fields, and the customer list's `segment` filter."""

from decimal import Decimal

import pytest

from crm.models import AccessLog
from customers.models import Customer
from customers.services import customer_create
from segments.models import Segment
from tests.customers.conftest import next_phone

pytestmark = pytest.mark.django_db

BIG = {"name": "高价值客户", "condition": {"totalSpent": {"gte": 10000}, "orderCount": {"gte": 10}}}


@pytest.fixture
def customers():
    made = []
    for spent, orders in [("20000", 12), ("15000", 9), ("500", 30), ("10000", 10)]:
        customer = customer_create(actor=None, name="客户", phone=next_phone())
        Customer.objects.filter(pk=customer.pk).update(
            total_spent=Decimal(spent), order_count=orders
        )
        made.append(customer)
    return made


@pytest.fixture
def client(api_client, make_user):
    return api_client(make_user("marketer", roles=["marketing"]))


def create(client, django_capture_on_commit_callbacks, body=BIG):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post("/api/v1/customers/segments", body, format="json")


def test_creating_returns_the_id_and_count_of_spec_4_3(
    customers, client, django_capture_on_commit_callbacks
):
    response = create(client, django_capture_on_commit_callbacks)

    assert response.status_code == 201
    data = response.json()["data"]
    assert set(data) == {"id", "count"} and data["count"] == 2


def test_the_list_has_each_segment_with_its_condition_and_count(
    customers, client, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    create(client, django_capture_on_commit_callbacks)

    with django_assert_max_num_queries(4):
        response = client.get("/api/v1/customers/segments")

    segments = response.json()["data"]["segments"]
    assert [(s["name"], s["count"]) for s in segments] == [("高价值客户", 2)]
    assert segments[0]["condition"]["logicalOperator"] == "and"


def test_the_customer_list_filters_by_segment(
    customers, client, api_client, make_user, django_capture_on_commit_callbacks
):
    segment_id = create(client, django_capture_on_commit_callbacks).json()["data"]["id"]
    staff = api_client(make_user("desk", roles=["customer_service"]))

    items = staff.get(f"/api/v1/customers?segment={segment_id}").json()["data"]["items"]
    assert {item["id"] for item in items} == {str(customers[0].pk), str(customers[3].pk)}
    unknown = staff.get("/api/v1/customers?segment=999999")
    assert unknown.status_code == 400 and "segment" in unknown.json()["error"]["fields"]
    for bad in ("1.5", "abc", str(2**64)):
        assert staff.get(f"/api/v1/customers?segment={bad}").status_code == 400


def test_the_preview_counts_and_samples_with_phones_masked(customers, client):
    response = client.post(
        "/api/v1/customers/segments/preview", {"condition": BIG["condition"]}, format="json"
    )

    data = response.json()["data"]
    assert data["count"] == 2
    assert [item["id"] for item in data["sample"]] == [str(customers[3].pk), str(customers[0].pk)]
    assert "****" in data["sample"][0]["phone"]


def test_the_preview_logs_the_customers_it_showed(customers, client):
    client.post(
        "/api/v1/customers/segments/preview", {"condition": BIG["condition"]}, format="json"
    )

    (entry,) = AccessLog.objects.all()
    assert entry.action == "api:segment-preview"
    assert sorted(entry.customer_ids) == sorted([customers[0].pk, customers[3].pk])


def test_a_bad_condition_is_a_400_naming_the_condition_at_fault(customers, client):
    body = {
        "condition": {
            "logicalOperator": "or",
            "conditions": [
                {"field": "level", "operator": "eq", "value": "vip"},
                {"field": "totalSpent", "operator": "contains", "value": "1"},
            ],
        }
    }

    response = client.post("/api/v1/customers/segments/preview", body, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_condition"
    assert list(error["fields"]) == ["condition.conditions[1].operator"]
    assert "totalSpent takes the operators" in error["message"]


def test_a_segment_is_read_changed_and_deleted(
    customers, client, django_capture_on_commit_callbacks
):
    segment_id = create(client, django_capture_on_commit_callbacks).json()["data"]["id"]
    url = f"/api/v1/customers/segments/{segment_id}"

    assert client.get(url).json()["data"]["count"] == 2
    with django_capture_on_commit_callbacks(execute=True):
        patched = client.patch(
            url, {"condition": {"totalSpent": {"gte": 15000}}}, format="json"
        ).json()["data"]
    assert patched["count"] == 2 and patched["name"] == "高价值客户"
    assert client.get(f"{url}/customers").json()["data"]["pagination"]["total"] == 2
    deleted = client.delete(url)
    assert deleted.status_code == 204 and not deleted.content
    assert not Segment.objects.exists()


def test_members_are_paginated_newest_first(
    customers, client, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    segment_id = create(client, django_capture_on_commit_callbacks).json()["data"]["id"]

    with django_assert_max_num_queries(6):
        response = client.get(f"/api/v1/customers/segments/{segment_id}/customers?limit=1")

    data = response.json()["data"]
    assert [item["id"] for item in data["items"]] == [str(customers[3].pk)]
    assert data["pagination"]["total"] == 2


def test_a_refresh_on_demand_reports_who_joined_and_left(
    customers, client, django_capture_on_commit_callbacks
):
    segment_id = create(client, django_capture_on_commit_callbacks).json()["data"]["id"]
    Customer.objects.filter(pk=customers[1].pk).update(order_count=20)

    response = client.post(f"/api/v1/customers/segments/{segment_id}/refresh")

    assert response.json()["data"] == {"count": 3, "added": 1, "removed": 0}


def test_the_analysis_compares_with_all_customers_and_with_another_segment(
    customers, client, django_capture_on_commit_callbacks
):
    big = create(client, django_capture_on_commit_callbacks).json()["data"]["id"]
    many = create(
        client,
        django_capture_on_commit_callbacks,
        {"name": "常客", "condition": {"orderCount": {"gte": 10}}},
    ).json()["data"]["id"]

    against_all = client.get(f"/api/v1/customers/segments/{big}/analysis?compareWith=all")
    against_many = client.get(f"/api/v1/customers/segments/{big}/analysis?compareWith={many}")

    data = against_all.json()["data"]
    assert data["portrait"]["count"] == 2 and len(data["trend"]) == 1
    metrics = {row["metric"]: row for row in data["comparison"]["metrics"]}
    assert metrics["count"] == {"metric": "count", "segment": 2, "other": 4, "difference": -2}
    assert metrics["avgSpend"]["difference"] == "3625.00"  # 15000.00 - 11375.00
    other = against_many.json()["data"]["comparison"]
    assert other["with"] == "常客" and other["portrait"]["count"] == 3
    for bad in ("abc", "-1", str(2**64)):
        response = client.get(f"/api/v1/customers/segments/{big}/analysis?compareWith={bad}")
        assert response.status_code == 400


def test_the_condition_fields_are_listed_for_builders(client):
    fields = {
        f["name"]: f
        for f in client.get("/api/v1/customers/segments/fields").json()["data"]["fields"]
    }

    assert {"level", "totalSpent", "tags", "rfmTier", "rfmClass"} <= set(fields)
    assert "between" in fields["totalSpent"]["operators"]
    assert {choice["value"] for choice in fields["rfmClass"]["choices"]} >= {"important_value"}


def test_roles_without_segments_are_refused(customers, api_client, make_user):
    desk = api_client(make_user("desk", roles=["customer_service"]))

    assert desk.get("/api/v1/customers/segments").status_code == 403
    assert desk.post("/api/v1/customers/segments", BIG, format="json").status_code == 403
    assert (
        desk.post(
            "/api/v1/customers/segments/preview", {"condition": BIG["condition"]}, format="json"
        ).status_code
        == 403
    )
