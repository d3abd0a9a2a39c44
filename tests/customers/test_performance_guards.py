"""Guards for DESIGN.md's scale rules: capped query counts and index use (plans, not timings)."""

import json

import pytest
from django.db import connection

from customers.models import Customer

pytestmark = pytest.mark.django_db


def plan(queryset) -> str:
    """The plan PostgreSQL picks with sequential scans disabled: an index that can serve the
    query shows up; one that cannot leaves a Seq Scan in the plan."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        return json.dumps(cursor.fetchone()[0])


@pytest.fixture
def some_customers(make_customer):
    for index in range(30):
        make_customer(name=f"王{index}芳", email=f"c{index}@example.com")


@pytest.mark.parametrize(
    ("term", "index"),
    [
        ("王芳", "customer_name_grams_idx"),
        ("王", "customer_name_grams_idx"),
        ("13800000001", "customers_customer_phone_index_key"),
        ("0001", "customer_phone_last4_idx"),
        ("c3@example.com", "customers_customer_email_index_key"),
        ("C0001", "customers_customer_customer_no"),
    ],
)
def test_each_search_kind_uses_its_index(some_customers, term, index):
    query_plan = plan(Customer.objects.search(term).order_by())
    assert index in query_plan
    assert "Seq Scan" not in query_plan


@pytest.mark.parametrize(
    ("filters", "indexes"),
    [
        # Either index that leads with the level serves it; the planner picks one by its
        # statistics, which differ from run to run on so few rows.
        ({"level": "svip"}, ("customer_level_idx", "customer_level_register_idx")),
        ({"status": "blocked"}, ("customer_status_idx",)),
        ({"source": "app"}, ("customer_source_idx",)),
        ({"register_date__gte": "2024-01-01"}, ("customer_register_idx",)),
    ],
)
def test_filters_use_their_indexes(some_customers, filters, indexes):
    query_plan = plan(Customer.objects.filter(**filters).order_by())
    assert any(index in query_plan for index in indexes)


def test_level_and_registration_date_together_use_one_index(some_customers):
    query_plan = plan(
        Customer.objects.filter(level__in=["vip", "svip"], register_date__gte="2024-01-01")
        .exclude(status="archived")
        .order_by()
        .values("id")
    )
    assert "customer_level_register_idx" in query_plan
    assert "Seq Scan" not in query_plan


def test_tag_filter_reads_customer_tags_by_tag_id(make_customer):
    make_customer(name="甲", tags=["素食"])
    query_plan = plan(Customer.objects.with_any_tag(["素食"]).order_by())
    assert "Seq Scan" not in query_plan
    # Joined by tag name, PostgreSQL misjudged how many customers carry a tag (docs/performance.md).
    assert '"Relation Name": "customers_tag"' not in query_plan


@pytest.mark.parametrize(
    ("ordering", "index"),
    [
        ("-createdAt", "customer_created_idx"),
        ("totalSpent", "customer_spent_idx"),
        ("-orderCount", "customer_orders_idx"),
        ("-lastOrderDate", "customer_last_order_idx"),
        ("lastOrderDate", "customer_last_order_idx"),
    ],
)
def test_list_orderings_walk_an_index(some_customers, ordering, index):
    from customers.filters import order_by_for

    query_plan = plan(Customer.objects.order_by(*order_by_for(ordering))[:20])
    assert index in query_plan
    assert '"Node Type": "Sort"' not in query_plan


def test_list_query_count_does_not_grow_with_rows(
    api_client, make_user, make_customer, django_assert_max_num_queries
):
    manager = make_user("boss", roles=["manager"])
    for index in range(25):
        make_customer(name=f"客{index}", tags=["美食爱好者", "素食"])
    client = api_client(manager)
    # savepoint pair (ATOMIC_REQUESTS inside the test's transaction), 2 permission lookups,
    # count, page, tags prefetch, reveal audit event, the access log's one INSERT
    with django_assert_max_num_queries(9):
        response = client.get("/api/v1/customers", {"limit": 20})
    assert len(response.json()["data"]["items"]) == 20


def test_a_last_page_is_its_own_total(
    api_client, make_user, make_customer, django_assert_max_num_queries
):
    manager = make_user("boss", roles=["manager"])
    for index in range(3):
        make_customer(name=f"客{index}")
    # as the plain list, without the count
    with django_assert_max_num_queries(8):
        response = api_client(manager).get("/api/v1/customers", {"limit": 20})
    pagination = response.json()["data"]["pagination"]
    assert (pagination["total"], pagination["totalExact"]) == (3, True)


def test_combined_filter_query_count_is_capped(
    api_client, make_user, make_customer, django_assert_max_num_queries
):
    manager = make_user("boss", roles=["manager"])
    for index in range(25):
        make_customer(name=f"客{index}", tags=["美食爱好者"])
    client = api_client(manager)
    # as the plain list, plus the tags' ids
    with django_assert_max_num_queries(10):
        response = client.get(
            "/api/v1/customers",
            {"tag": "美食爱好者", "level": "regular", "startDate": "2020-01-01"},
        )
    assert len(response.json()["data"]["items"]) == 20


def test_estimated_total_costs_one_query_more(
    api_client, make_user, make_customer, django_assert_max_num_queries, monkeypatch
):
    monkeypatch.setattr("crm.api.pagination.EXACT_TOTAL_LIMIT", 10)
    manager = make_user("boss", roles=["manager"])
    for index in range(25):
        make_customer(name=f"客{index}")
    # as the plain list, plus the EXPLAIN that estimates the total
    with django_assert_max_num_queries(10):
        response = api_client(manager).get("/api/v1/customers")
    assert response.json()["data"]["pagination"]["totalExact"] is False


def test_detail_query_count_is_capped(
    api_client, make_user, make_customer, django_assert_max_num_queries
):
    manager = make_user("boss", roles=["manager"])
    customer = make_customer(
        tags=["美食爱好者", "素食"],
        addresses=[{"detail": "建国路1号"}, {"detail": "人民路2号"}],
        note="靠窗",
    )
    # savepoint pair, 2 permission lookups, customer, tags, addresses, notes, recent orders
    # (their items only when there are some: test_orders), recent communications, reveal audit
    # event, the access log's INSERT
    with django_assert_max_num_queries(12):
        response = api_client(manager).get(f"/api/v1/customers/{customer.pk}")
    assert response.status_code == 200


def test_estimated_total_follows_the_table_statistics(some_customers):
    from crm.api.pagination import planner_estimate

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
    assert planner_estimate(Customer.objects.live()) == 30
    assert planner_estimate(Customer.objects.filter(status="archived")) <= 1
