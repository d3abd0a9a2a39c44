"""evaluate_levels on PostgreSQL: the figures it reads for each window, what it writes (only the
changes, a LevelChange each, the grace periods), and the order hook (upgrades only)."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from crm.i18n import in_default_language
from customers.models import Customer, CustomerStatus
from customers.services.orders import refund_order
from membership.models import (
    ChangeKind,
    LevelChange,
    Membership,
    MembershipLevel,
    NotificationStatus,
    TierGrace,
)
from membership.services import tiers
from membership.services.levels import change_level
from membership.services.tiers import evaluate_levels
from tests.membership.conftest import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def today():
    return timezone.localdate()


def level_of(customer):
    return Customer.objects.values_list("level", flat=True).get(pk=customer.pk)


def set_level(customer, code):
    Customer.objects.filter(pk=customer.pk).update(level=code)


def grace_of(customer):
    return TierGrace.objects.filter(customer=customer).values_list("grace_until", flat=True).first()


def row_version(customer):
    """The physical row version: any UPDATE of the row, even one writing the same values,
    gives it a new one."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT ctid::text FROM customers_customer WHERE id = %s", [customer.pk])
        return cursor.fetchone()[0]


# --- the figures: windows and refunds -----------------------------------------------------------


def test_an_order_at_midnight_window_days_ago_counts(make_customer, place_order, today):
    customer = make_customer()
    place_order(customer, "1000", placed_at=at(today - timedelta(days=365)))

    evaluate_levels(today=today)

    assert level_of(customer) == "member"


def test_an_order_a_second_before_the_window_does_not_count(make_customer, place_order, today):
    customer = make_customer()
    place_order(customer, "1000", placed_at=at(today - timedelta(days=366), 23, 59, 59))

    evaluate_levels(today=today)

    assert level_of(customer) == "regular"


def test_a_lifetime_window_counts_every_order(make_customer, place_order, today):
    MembershipLevel.objects.filter(code="member").update(window_days=0)
    old, none = make_customer(), make_customer()
    place_order(old, "600", placed_at=at(today - timedelta(days=1000)))
    place_order(old, "400", placed_at=at(today - timedelta(days=2000)))
    place_order(none, "999.99", placed_at=at(today - timedelta(days=3000)))

    evaluate_levels(today=today)

    assert (level_of(old), level_of(none)) == ("member", "regular")


def test_spend_is_what_was_paid_and_kept_paid(make_customer, place_order, today):
    customer = make_customer()
    order = place_order(customer, "1100", discount="50", placed_at=at(today))
    refund_order(order=order, amount=Decimal("50.01"), actor=None)

    evaluate_levels(today=today)

    assert level_of(customer) == "regular"  # 1100 - 50 - 50.01 = 999.99


def test_a_fully_refunded_order_is_not_counted_as_an_order(make_customer, place_order, today):
    customer = make_customer()
    orders = [place_order(customer, "10", placed_at=at(today)) for _ in range(10)]
    refund_order(order=orders[0], amount=Decimal("10"), actor=None)

    evaluate_levels(today=today)

    assert level_of(customer) == "regular"


def test_points_count_as_the_balance_of_the_customer(make_customer, today):
    MembershipLevel.objects.filter(code="member").update(min_points=300)
    rich, poor = make_customer(), make_customer()
    Customer.objects.filter(pk=rich.pk).update(points=300)
    Customer.objects.filter(pk=poor.pk).update(points=299)

    evaluate_levels(today=today)

    assert (level_of(rich), level_of(poor)) == ("member", "regular")


def test_archived_and_erased_customers_are_not_evaluated(make_customer, place_order, today):
    archived, erased = make_customer(), make_customer()
    for customer in (archived, erased):
        place_order(customer, "5000", placed_at=at(today))
    Customer.objects.filter(pk=archived.pk).update(status=CustomerStatus.ARCHIVED)
    Customer.objects.filter(pk=erased.pk).update(erased_at=timezone.now())

    result = evaluate_levels(today=today)

    assert result.evaluated == 0
    assert (level_of(archived), level_of(erased)) == ("regular", "regular")


# --- what it writes -----------------------------------------------------------------------------


def test_only_changes_are_written_each_with_a_pending_automatic_level_change(
    make_customer, place_order, today
):
    up, same, kept = make_customer(), make_customer(), make_customer()
    place_order(up, "5000", placed_at=at(today))
    place_order(kept, "3000", placed_at=at(today))
    set_level(kept, "vip")
    versions = {c.pk: row_version(c) for c in (same, kept)}

    result = evaluate_levels(today=today)

    assert (result.evaluated, result.upgraded, result.downgraded) == (3, 1, 0)
    assert [(level_of(c), row_version(c)) for c in (same, kept)] == [
        ("regular", versions[same.pk]),
        ("vip", versions[kept.pk]),
    ]
    change = LevelChange.objects.get()
    assert (change.customer_id, change.from_level, change.to_level) == (up.pk, "regular", "vip")
    assert (change.kind, change.notification_status) == (
        ChangeKind.AUTOMATIC,
        NotificationStatus.PENDING,
    )
    assert change.reason == in_default_language(tiers._REASONS[tiers.Outcome.UPGRADE])


def test_a_second_run_changes_nothing(make_customer, place_order, today):
    customer = make_customer()
    place_order(customer, "5000", placed_at=at(today))
    set_level(make_customer(), "svip")
    evaluate_levels(today=today)
    version = row_version(customer)

    result = evaluate_levels(today=today)

    assert (result.upgraded, result.downgraded, result.grace_started) == (0, 0, 0)
    assert row_version(customer) == version
    assert LevelChange.objects.count() == 1


def test_a_grace_period_is_stored_then_ends_in_a_downgrade(make_customer, place_order, today):
    customer = make_customer()
    place_order(customer, "1000", placed_at=at(today))
    set_level(customer, "vip")

    started = evaluate_levels(today=today)
    kept = evaluate_levels(today=today + timedelta(days=30))
    ended = evaluate_levels(today=today + timedelta(days=31))

    assert (started.grace_started, kept.grace_started, kept.downgraded) == (1, 0, 0)
    assert ended.downgraded == 1
    assert level_of(customer) == "member"
    assert grace_of(customer) is None
    change = LevelChange.objects.get()
    assert (change.from_level, change.to_level) == ("vip", "member")


def test_a_grace_period_of_another_tier_is_not_this_tiers(make_customer, today):
    customer = make_customer()
    set_level(customer, "vip")
    TierGrace.objects.create(customer=customer, level="svip", grace_until=today - timedelta(1))

    evaluate_levels(today=today)

    assert level_of(customer) == "vip"
    assert grace_of(customer) == today + timedelta(days=30)


def test_retention_met_again_removes_the_grace_period(make_customer, place_order, today):
    customer = make_customer()
    set_level(customer, "vip")
    TierGrace.objects.create(customer=customer, level="vip", grace_until=today)
    place_order(customer, "3000", placed_at=at(today))

    evaluate_levels(today=today)

    assert (level_of(customer), grace_of(customer)) == ("vip", None)


def test_an_active_membership_is_a_floor_and_one_that_ended_is_not(
    make_customer, today, default_tiers
):
    member, ended = make_customer(), make_customer()
    vip = default_tiers["vip"]
    Membership.objects.create(
        customer=member, level=vip, start_date=today, end_date=today + timedelta(1)
    )
    Membership.objects.create(
        customer=ended, level=vip, start_date=today - timedelta(30), end_date=today
    )

    evaluate_levels(today=today)

    assert (level_of(member), level_of(ended)) == ("vip", "regular")
    assert LevelChange.objects.get().reason == in_default_language(
        tiers._REASONS[tiers.Outcome.MEMBERSHIP]
    )


def test_a_customer_in_a_deleted_tier_moves_to_the_base_tier(make_customer, today):
    customer = make_customer()
    set_level(customer, "gold")

    result = evaluate_levels(today=today)

    assert level_of(customer) == "regular"
    assert result.downgraded == 1
    assert LevelChange.objects.get().reason == in_default_language(
        tiers._REASONS[tiers.Outcome.UNKNOWN_TIER]
    )


def test_only_the_given_customers_are_evaluated(make_customer, place_order, today):
    chosen, other = make_customer(), make_customer()
    for customer in (chosen, other):
        place_order(customer, "5000", placed_at=at(today))

    result = evaluate_levels(customer_ids=[chosen.pk], today=today)

    assert result.evaluated == 1
    assert (level_of(chosen), level_of(other)) == ("vip", "regular")


def test_without_tiers_nothing_is_evaluated(make_customer, today):
    make_customer()
    MembershipLevel.objects.all().delete()

    assert evaluate_levels(today=today).evaluated == 0


# --- the order hook -----------------------------------------------------------------------------


def test_an_order_upgrades_at_once(make_customer, place_order, django_capture_on_commit_callbacks):
    customer = make_customer()

    with django_capture_on_commit_callbacks(execute=True):
        place_order(customer, "5000")

    assert level_of(customer) == "vip"
    assert LevelChange.objects.get().kind == ChangeKind.AUTOMATIC


def test_an_order_never_downgrades_nor_starts_a_grace_period(
    make_customer, place_order, django_capture_on_commit_callbacks
):
    customer = make_customer()
    set_level(customer, "svip")

    with django_capture_on_commit_callbacks(execute=True):
        place_order(customer, "10")

    assert (level_of(customer), grace_of(customer)) == ("svip", None)
    assert not LevelChange.objects.exists()


# --- a concurrent manual change -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_manual_change_made_during_the_evaluation_is_kept(
    make_customer, make_user, default_tiers, monkeypatch
):
    """Another connection changes the tier by hand after the evaluation read the customer and
    before it writes: the evaluation's UPDATE, guarded by the level it read, leaves it alone."""
    # Points, not an order: the order hook would upgrade the customer before the evaluation.
    MembershipLevel.objects.filter(code="vip").update(min_points=100)
    customer = make_customer()
    Customer.objects.filter(pk=customer.pk).update(points=100)
    manager = make_user("manager", roles=["manager"])
    decide = tiers.decide

    def manual_change():
        try:
            change_level(
                customer_id=customer.pk, level_code="svip", reason="VIP guest", actor=manager
            )
        finally:
            connection.close()

    def decide_while_a_manager_changes_the_tier(*args, **kwargs):
        thread = threading.Thread(target=manual_change)
        thread.start()
        thread.join()
        return decide(*args, **kwargs)

    monkeypatch.setattr(tiers, "decide", decide_while_a_manager_changes_the_tier)

    result = evaluate_levels()

    assert result.upgraded == 0
    assert level_of(customer) == "svip"
    assert list(LevelChange.objects.values_list("kind", "to_level")) == [
        (ChangeKind.MANUAL, "svip")
    ]
