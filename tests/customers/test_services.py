"""customers.services rules that no API test reaches directly."""

import pytest

from customers.models import Customer
from customers.services import customer_archive, customer_update

pytestmark = pytest.mark.django_db


def test_update_from_a_stale_copy_keeps_the_order_totals(make_customer, make_user):
    stale = make_customer(name="张三")
    Customer.objects.filter(pk=stale.pk).update(order_count=3, total_spent=300)
    editor = make_user(roles=["operations"])
    updated = customer_update(customer=stale, actor=editor, changes={"name": "张三丰"})
    stored = Customer.objects.get(pk=stale.pk)
    assert (stored.name, stored.order_count, stored.total_spent) == ("张三丰", 3, 300)
    assert updated.order_count == 3
    assert Customer.objects.search("三丰").get() == stored


def test_archive_from_a_stale_copy_keeps_the_order_totals(make_customer, make_user):
    stale = make_customer()
    Customer.objects.filter(pk=stale.pk).update(order_count=2)
    customer_archive(customer=stale, actor=make_user(roles=["manager"]))
    stored = Customer.objects.get(pk=stale.pk)
    assert (stored.status, stored.order_count) == ("archived", 2)
