"""Demo data: loaded once, and its customers' figures agree with their orders."""

import pytest
from django.db.models import Count, Max, Sum
from django.utils import timezone

from customers.devdata.demo import load_demo_customers
from customers.devdata.tiers import level_for, points_for
from customers.models import Customer, Order

pytestmark = pytest.mark.django_db


def test_demo_data_loads_once_with_orders_that_match_the_totals():
    assert load_demo_customers(60) == 60
    assert load_demo_customers(60) == 0
    assert Customer.objects.count() == 60
    assert Order.objects.exists()
    assert not Order.objects.filter(placed_at__gt=timezone.now()).exists()
    figures = {
        row["customer_id"]: row
        for row in Order.objects.values("customer_id").annotate(
            n=Count("id"), paid=Sum("amount") - Sum("discount"), last=Max("placed_at")
        )
    }
    for customer in Customer.objects.all():
        row = figures.get(customer.pk, {"n": 0, "paid": 0, "last": None})
        assert customer.order_count == row["n"]
        assert customer.total_spent == row["paid"]
        assert customer.last_order_date == row["last"]


def test_demo_and_generated_customers_start_at_the_same_tier_for_the_same_spend():
    load_demo_customers(60)

    for customer in Customer.objects.all():
        cents = int(customer.total_spent * 100)
        assert (customer.level, customer.points) == (level_for(cents), points_for(cents))


def test_the_demo_of_make_run_loads_whole():
    """`make run` loads 1,000 demo customers: every phone and e-mail unique (a random e-mail
    number once collided and stopped `make run`)."""
    assert load_demo_customers(1000) == 1000
    assert Customer.objects.exclude(email=None).count() > 300


def test_the_demo_has_follow_ups_overdue_due_today_and_upcoming():
    from customers.models import Communication
    from customers.selectors import follow_up_counts

    load_demo_customers(60)
    owner = Communication.objects.exclude(follow_up_owner=None).first().follow_up_owner
    counts = follow_up_counts(owner)
    assert counts["mine_overdue"] > 0 and counts["mine"] > counts["mine_overdue"]
    assert Communication.objects.filter(follow_up_at__gt=timezone.now()).exists()
