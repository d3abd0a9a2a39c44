"""The benchmark data generator (customers/devdata/generate.py) on a tiny run, in the test DB."""

import hashlib
from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from customers.devdata.tiers import level_for
from customers.models import Customer, CustomerTag, Order, OrderItem
from customers.services import customer_create

pytestmark = pytest.mark.django_db

CUSTOMERS, ORDERS = 200, 2000


def generate(**options):
    call_command(
        "generate_data",
        customers=CUSTOMERS,
        orders=ORDERS,
        seed=7,
        end_date=date(2026, 1, 31),
        stdout=StringIO(),
        **options,
    )


def first_rows_hash() -> str:
    rows = Customer.objects.order_by("id").values_list("name", "phone", "email")[:50]
    return hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()


def test_counts_pii_and_search():
    generate()
    assert Customer.objects.count() == CUSTOMERS
    assert Order.objects.count() == ORDERS
    assert OrderItem.objects.count() >= ORDERS
    assert CustomerTag.objects.exists()
    customers = list(Customer.objects.all())
    phones = [c.phone for c in customers]
    assert len(set(phones)) == CUSTOMERS
    assert all(p.startswith("+861") and len(p) == 14 for p in phones)
    assert len(set(Customer.objects.values_list("customer_no", flat=True))) == CUSTOMERS

    some = customers[17]
    assert list(Customer.objects.search(some.phone)) == [some]
    assert list(Customer.objects.search(some.phone[3:])) == [some]
    assert some in Customer.objects.search(some.phone[-4:])
    with_email = next(c for c in customers if c.email)
    assert list(Customer.objects.search(with_email.email)) == [with_email]
    assert list(Customer.objects.search(some.customer_no)) == [some]

    two_char = next(c.name for c in customers if len(c.name) == 2)
    expected = {c.pk for c in customers if two_char in c.name}
    assert set(Customer.objects.search(two_char).values_list("pk", flat=True)) == expected

    # Later inserts take the next customer number instead of colliding with generated ones.
    created = customer_create(actor=None, name="新客", phone="13900000000")
    assert created.customer_no > max(c.customer_no for c in customers)


def test_totals_equal_the_orders():
    generate()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM customers_customer c
            LEFT JOIN (
                SELECT customer_id, count(*) n, sum(amount - discount) s, min(placed_at) f,
                       max(placed_at) l
                FROM customers_order GROUP BY customer_id
            ) a ON a.customer_id = c.id
            WHERE c.order_count <> coalesce(a.n, 0)
               OR c.total_spent <> coalesce(a.s, 0)
               OR c.avg_order_value <> coalesce(round(a.s / a.n, 2), 0)
               OR c.first_order_date IS DISTINCT FROM a.f
               OR c.last_order_date IS DISTINCT FROM a.l
            """
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            "SELECT count(*) FROM customers_order o WHERE o.amount <> "
            "(SELECT sum(quantity * price) FROM customers_orderitem i WHERE i.order_id = o.id)"
        )
        assert cursor.fetchone()[0] == 0
    for customer in Customer.objects.all():
        assert customer.level == level_for(int(customer.total_spent * 100))
        assert customer.points == int(customer.total_spent)
    no_orders = Customer.objects.filter(order_count=0).count()
    assert 0.1 * CUSTOMERS < no_orders < 0.3 * CUSTOMERS
    placed = list(Order.objects.order_by("id").values_list("placed_at", flat=True))
    assert placed == sorted(placed)


def test_deterministic_and_guarded():
    generate()
    first = first_rows_hash()
    with pytest.raises(CommandError, match="--force"):
        generate()
    generate(force=True)
    assert Customer.objects.count() == CUSTOMERS
    assert Order.objects.count() == ORDERS
    assert first_rows_hash() == first
