"""The orders tab of the admin customer page: a customer's orders with their dishes, paginated."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from customers.services.orders import record_order

pytestmark = pytest.mark.django_db


# 16 for the page, 1 for the header's follow-up count (customers/admin/follow_up_links.py) and
# 6 for the membership tab (membership registers it in customers.panels;
# tests/membership/test_admin_customer_panel.py holds it to 6), 4 for the portrait tab (the
# portrait, the address, the period comparison, the tags: tests/profiles/test_portrait_admin.py)
# and the access log's INSERT.
QUERY_CAP = 16 + 1 + 6 + 4 + 1


def place(customer, number, *, dish="宫保鸡丁"):
    return record_order(
        actor=None,
        source="pos",
        external_id=f"POS-{customer.pk}-{number}",
        placed_at=timezone.now() - timedelta(days=number),
        amount=Decimal("88.00"),
        customer_id=customer.pk,
        items=[{"dish": dish, "category": "川菜", "quantity": 2, "price": Decimal("44.00")}],
    ).order


def change_page(client, customer, **params):
    return client.get(f"/admin/customers/customer/{customer.pk}/change/", params)


def test_orders_tab_lists_orders_with_dishes(client, make_user, make_customer):
    customer = make_customer()
    place(customer, 1, dish="水煮鱼")
    client.force_login(make_user(roles=["manager"]))
    page = change_page(client, customer).content.decode()
    assert f"POS-{customer.pk}-1" in page
    assert "水煮鱼 ×2" in page


def test_orders_tab_pages_through_many_orders(
    client, make_user, make_customer, django_assert_max_num_queries
):
    customer = make_customer()
    for number in range(25):
        place(customer, number)
    client.force_login(make_user(roles=["manager"]))
    # The page's queries do not grow with the orders shown (their dishes come in one query).
    with django_assert_max_num_queries(QUERY_CAP):
        first = change_page(client, customer).content.decode()
    second = change_page(client, customer, orders_page=2).content.decode()
    newest, oldest = f"POS-{customer.pk}-0<", f"POS-{customer.pk}-24<"
    assert newest in first and oldest not in first
    assert oldest in second and newest not in second


def test_roles_without_order_permission_do_not_see_orders(client, make_user, make_customer):
    customer = make_customer()
    place(customer, 1)
    viewer = make_user("viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(viewer)
    page = change_page(client, customer).content.decode()
    assert f"POS-{customer.pk}-1" not in page
