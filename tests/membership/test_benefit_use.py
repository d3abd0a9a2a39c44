"""Using a benefit (spec 2.2.4, issue 11): limits per period, idempotency, audit, and reversal by
a full refund of the order it was used on."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.idempotency import IdempotencyKeyReused
from crm.models import AuditEvent
from customers.models import Customer
from customers.services.orders import refund_order
from membership.models import BenefitKind, BenefitUsage, MembershipLevel, UsagePeriod
from membership.services.benefits import UsageLimitReached, record_usage
from membership.services.enrollment import enroll

pytestmark = pytest.mark.django_db


@pytest.fixture
def gold():
    return MembershipLevel.objects.create(code="gold", name="金卡", sort_order=10)


@pytest.fixture
def guest(make_customer, gold):
    customer = make_customer()
    Customer.objects.filter(pk=customer.pk).update(level="gold")
    customer.refresh_from_db()
    return customer


def treat(level, *, limit, period):
    return level.benefits.create(
        kind=BenefitKind.BIRTHDAY,
        value=Decimal("18"),
        description="Birthday noodles",
        usage_limit=limit,
        usage_period=period,
    )


def used_earlier(benefit, customer, *, days_ago):
    """A use recorded `days_ago` days before now, as if made then."""
    usage = record_usage(benefit=benefit, customer=customer).usage
    BenefitUsage.objects.filter(pk=usage.pk).update(
        used_at=timezone.now() - timedelta(days=days_ago)
    )


def test_a_benefit_limited_to_once_a_day_is_refused_the_second_time_that_day(gold, guest):
    noodles = treat(gold, limit=1, period=UsagePeriod.DAY)
    record_usage(benefit=noodles, customer=guest)

    with pytest.raises(UsageLimitReached) as refused:
        record_usage(benefit=noodles, customer=guest)

    assert "benefitId" in refused.value.fields
    assert BenefitUsage.objects.filter(benefit=noodles).count() == 1


def test_yesterdays_use_does_not_count_towards_todays_limit(gold, guest):
    noodles = treat(gold, limit=1, period=UsagePeriod.DAY)
    used_earlier(noodles, guest, days_ago=1)

    record_usage(benefit=noodles, customer=guest)

    assert BenefitUsage.objects.filter(benefit=noodles).count() == 2


def test_a_yearly_limit_counts_every_use_of_the_calendar_year(gold, guest):
    noodles = treat(gold, limit=2, period=UsagePeriod.YEAR)
    today = timezone.localdate()
    record_usage(benefit=noodles, customer=guest)
    if today.timetuple().tm_yday > 1:
        used_earlier(noodles, guest, days_ago=today.timetuple().tm_yday - 1)  # 1 January
    else:
        record_usage(benefit=noodles, customer=guest)

    with pytest.raises(UsageLimitReached):
        record_usage(benefit=noodles, customer=guest)


def test_a_limit_counts_one_customers_uses_only(gold, guest, make_customer):
    noodles = treat(gold, limit=1, period=UsagePeriod.MONTH)
    other = make_customer()
    Customer.objects.filter(pk=other.pk).update(level="gold")
    other.refresh_from_db()
    record_usage(benefit=noodles, customer=other)

    record_usage(benefit=noodles, customer=guest)

    assert BenefitUsage.objects.filter(customer=guest).count() == 1


def test_a_term_limit_counts_from_the_active_memberships_start(gold, guest):
    noodles = treat(gold, limit=1, period=UsagePeriod.TERM)
    used_earlier(noodles, guest, days_ago=10)  # before the membership began
    enroll(customer_id=guest.pk, level=gold, duration_days=365)

    record_usage(benefit=noodles, customer=guest)
    with pytest.raises(UsageLimitReached):
        record_usage(benefit=noodles, customer=guest)


def test_without_a_membership_a_term_limit_counts_every_use(gold, guest):
    noodles = treat(gold, limit=1, period=UsagePeriod.TERM)
    used_earlier(noodles, guest, days_ago=400)

    with pytest.raises(UsageLimitReached):
        record_usage(benefit=noodles, customer=guest)


def test_a_repeated_key_records_one_use_and_returns_it(gold, guest):
    noodles = treat(gold, limit=None, period=UsagePeriod.TERM)

    first = record_usage(benefit=noodles, customer=guest, idempotency_key="till-7-0001")
    again = record_usage(benefit=noodles, customer=guest, idempotency_key="till-7-0001")

    assert (first.repeated, again.repeated) == (False, True)
    assert again.usage.pk == first.usage.pk
    assert BenefitUsage.objects.count() == 1


def test_a_repeat_is_answered_even_once_the_limit_is_reached(gold, guest):
    noodles = treat(gold, limit=1, period=UsagePeriod.DAY)
    record_usage(benefit=noodles, customer=guest, idempotency_key="k1")

    assert record_usage(benefit=noodles, customer=guest, idempotency_key="k1").repeated


def test_a_key_reused_for_another_request_is_refused(gold, guest):
    noodles = treat(gold, limit=None, period=UsagePeriod.TERM)
    record_usage(benefit=noodles, customer=guest, idempotency_key="k1", value=Decimal("18"))

    with pytest.raises(IdempotencyKeyReused):
        record_usage(benefit=noodles, customer=guest, idempotency_key="k1", value=Decimal("20"))


def test_a_use_is_audited_with_who_recorded_it(gold, guest, make_user):
    noodles = treat(gold, limit=None, period=UsagePeriod.TERM)
    waiter = make_user("waiter")

    usage = record_usage(benefit=noodles, customer=guest, actor=waiter).usage

    event = AuditEvent.objects.get(action="benefit_use")
    assert (event.actor, event.object_id) == (waiter, str(usage.pk))
    assert event.summary["customer"] == guest.pk


@pytest.fixture
def refund(django_capture_on_commit_callbacks):
    def make(order, amount):
        with django_capture_on_commit_callbacks(execute=True):
            return refund_order(order=order, amount=Decimal(amount), reason="test", actor=None)

    return make


def test_a_full_refund_reverses_the_use_so_it_no_longer_counts(gold, guest, place_order, refund):
    noodles = treat(gold, limit=1, period=UsagePeriod.DAY)
    order = place_order(guest, "88")
    usage = record_usage(benefit=noodles, customer=guest, order=order).usage

    refund(order, "88")

    usage.refresh_from_db()
    assert usage.reversed_at is not None
    assert AuditEvent.objects.filter(action="benefit_reversal", object_id=str(usage.pk)).exists()
    record_usage(benefit=noodles, customer=guest)  # the day's use is free again


def test_a_partial_refund_keeps_the_use(gold, guest, place_order, refund):
    noodles = treat(gold, limit=1, period=UsagePeriod.DAY)
    order = place_order(guest, "88")
    usage = record_usage(benefit=noodles, customer=guest, order=order).usage

    refund(order, "40")

    usage.refresh_from_db()
    assert usage.reversed_at is None
    with pytest.raises(UsageLimitReached):
        record_usage(benefit=noodles, customer=guest)
