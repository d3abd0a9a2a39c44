"""Memberships (spec 2.2.2): enrolment, conflicts, batch results, expiry and cancellation."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.audit_actions import AuditAction
from crm.errors import BusinessError, NotFound
from crm.models import AuditEvent
from customers.models import Customer, CustomerStatus
from membership.audit_actions import MembershipAuditAction
from membership.models import (
    ChangeKind,
    EnrollMethod,
    LevelChange,
    Membership,
    MembershipStatus,
    TierGrace,
)
from membership.services.enrollment import (
    MAX_BATCH,
    AlreadyMember,
    cancel_membership,
    enroll,
    enroll_batch,
    expire_memberships,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(make_user):
    return make_user("manager", roles=["manager"])


def level_of(customer):
    return Customer.objects.values_list("level", flat=True).get(pk=customer.pk)


# --- one enrolment ------------------------------------------------------------------------------


def test_enrolment_runs_from_today_for_the_duration_with_an_exclusive_end(
    make_customer, manager, default_tiers
):
    customer = make_customer()
    today = timezone.localdate()

    membership = enroll(
        customer_id=customer.pk,
        level=default_tiers["vip"],
        duration_days=365,
        method=EnrollMethod.PURCHASE,
        source="store BJ001",
        actor=manager,
    )

    membership.refresh_from_db()
    assert (membership.start_date, membership.end_date) == (today, today + timedelta(days=365))
    assert (membership.status, membership.method, membership.source, membership.actor) == (
        MembershipStatus.ACTIVE,
        EnrollMethod.PURCHASE,
        "store BJ001",
        manager,
    )
    event = AuditEvent.objects.get(action=MembershipAuditAction.ENROLL)
    assert event.actor == manager
    assert event.summary["level"] == "vip"


def test_enrolment_in_a_higher_tier_raises_the_tier_at_once(make_customer, manager, default_tiers):
    customer = make_customer()

    enroll(customer_id=customer.pk, level=default_tiers["vip"], duration_days=30, actor=manager)

    assert level_of(customer) == "vip"
    change = LevelChange.objects.get()
    assert (change.from_level, change.to_level, change.kind, change.actor) == (
        "regular",
        "vip",
        ChangeKind.MANUAL,
        manager,
    )


def test_a_system_enrolment_records_an_automatic_change(make_customer, default_tiers):
    customer = make_customer()

    enroll(customer_id=customer.pk, level=default_tiers["member"], duration_days=30)

    assert LevelChange.objects.get().kind == ChangeKind.AUTOMATIC


def test_enrolment_in_a_lower_tier_keeps_the_tier(make_customer, manager, default_tiers):
    customer = make_customer()
    Customer.objects.filter(pk=customer.pk).update(level="svip")

    enroll(customer_id=customer.pk, level=default_tiers["vip"], duration_days=30, actor=manager)

    assert level_of(customer) == "svip"
    assert not LevelChange.objects.exists()


def test_enrolment_in_the_same_tier_writes_no_change(make_customer, manager, default_tiers):
    customer = make_customer()
    Customer.objects.filter(pk=customer.pk).update(level="vip")

    enroll(customer_id=customer.pk, level=default_tiers["vip"], duration_days=30, actor=manager)

    assert not LevelChange.objects.exists()


def test_an_enrolment_starting_later_raises_the_tier_only_then(make_customer, default_tiers):
    customer = make_customer()
    tomorrow = timezone.localdate() + timedelta(days=1)

    enroll(
        customer_id=customer.pk, level=default_tiers["vip"], duration_days=30, start_date=tomorrow
    )

    assert level_of(customer) == "regular"


def test_an_active_membership_is_a_conflict(make_customer, manager, default_tiers):
    customer = make_customer()
    first = enroll(customer_id=customer.pk, level=default_tiers["vip"], duration_days=30)

    with pytest.raises(AlreadyMember) as refused:
        enroll(customer_id=customer.pk, level=default_tiers["svip"], duration_days=30)

    assert (refused.value.status, refused.value.code) == (409, "already_member")
    assert first.end_date.isoformat() in str(refused.value.message)
    assert Membership.objects.count() == 1


def test_an_expired_or_cancelled_membership_is_no_conflict(make_customer, manager, default_tiers):
    customer = make_customer()
    first = enroll(customer_id=customer.pk, level=default_tiers["vip"], duration_days=30)
    cancel_membership(membership=first, reason="Refunded", actor=manager)

    second = enroll(customer_id=customer.pk, level=default_tiers["vip"], duration_days=30)

    assert second.status == MembershipStatus.ACTIVE


@pytest.mark.parametrize("days", [0, 3651])
def test_a_duration_out_of_range_is_refused(make_customer, default_tiers, days):
    customer = make_customer()

    with pytest.raises(BusinessError) as refused:
        enroll(customer_id=customer.pk, level=default_tiers["vip"], duration_days=days)

    assert "duration" in refused.value.fields


def test_an_unknown_method_is_refused(make_customer, default_tiers):
    customer = make_customer()

    with pytest.raises(BusinessError) as refused:
        enroll(customer_id=customer.pk, level=default_tiers["vip"], duration_days=30, method="won")

    assert "method" in refused.value.fields


def test_an_archived_customer_is_refused(make_customer, default_tiers):
    customer = make_customer()
    Customer.objects.filter(pk=customer.pk).update(status=CustomerStatus.ARCHIVED)

    with pytest.raises(BusinessError) as refused:
        enroll(customer_id=customer.pk, level=default_tiers["vip"], duration_days=30)

    assert "customerId" in refused.value.fields
    assert not Membership.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_of_two_concurrent_enrolments_only_one_wins(make_customer, default_tiers):
    customer = make_customer()
    start = threading.Barrier(2)
    outcomes = []

    def enrol(level):
        start.wait()
        try:
            enroll(customer_id=customer.pk, level=level, duration_days=30)
            outcomes.append("enrolled")
        except AlreadyMember:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=enrol, args=(default_tiers[code],)) for code in ("vip", "svip")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["conflict", "enrolled"]
    assert Membership.objects.filter(status=MembershipStatus.ACTIVE).count() == 1
    assert level_of(customer) == Membership.objects.get().level.code


# --- batch --------------------------------------------------------------------------------------


def test_a_batch_enrols_each_customer_and_says_who_was_skipped_and_why(
    make_customer, manager, default_tiers
):
    fresh, member, archived = make_customer(), make_customer(), make_customer()
    enroll(customer_id=member.pk, level=default_tiers["member"], duration_days=30)
    Customer.objects.filter(pk=archived.pk).update(status=CustomerStatus.ARCHIVED)
    unknown = archived.pk + 1000

    result = enroll_batch(
        customer_ids=[fresh.pk, member.pk, archived.pk, unknown, fresh.pk],
        level=default_tiers["vip"],
        duration_days=90,
        method=EnrollMethod.GIFT,
        source="spring campaign",
        actor=manager,
    )

    assert [m.customer_id for m in result.enrolled] == [fresh.pk]
    assert [(s["customerId"], s["code"]) for s in result.skipped] == [
        (str(member.pk), "already_member"),
        (str(archived.pk), "invalid"),
        (str(unknown), "not_found"),
    ]
    assert all(s["message"] for s in result.skipped)
    enrolled = Membership.objects.get(customer=fresh)
    assert (enrolled.method, enrolled.source) == (EnrollMethod.GIFT, "spring campaign")


def test_a_batch_costs_the_same_queries_for_5_or_40_customers_and_raises_their_tiers(
    make_customer, manager, default_tiers
):
    def enrol(count):
        ids = [make_customer().pk for _ in range(count)]
        with CaptureQueriesContext(connection) as queries:
            result = enroll_batch(
                customer_ids=ids, level=default_tiers["vip"], duration_days=30, actor=manager
            )
        assert len(result.enrolled) == count
        return len(queries.captured_queries), ids

    few, _ids = enrol(5)
    many, ids = enrol(40)

    assert many == few
    assert set(Customer.objects.filter(pk__in=ids).values_list("level", flat=True)) == {"vip"}
    assert LevelChange.objects.filter(customer_id__in=ids, to_level="vip").count() == 40
    assert AuditEvent.objects.filter(action="enroll").count() == 45
    assert Membership.history.filter(customer_id__in=ids).count() == 40


def test_a_batch_larger_than_the_limit_is_refused(default_tiers):
    with pytest.raises(BusinessError):
        enroll_batch(
            customer_ids=list(range(1, MAX_BATCH + 2)),
            level=default_tiers["vip"],
            duration_days=30,
        )

    assert not Membership.objects.exists()


# --- expiry and cancellation --------------------------------------------------------------------


def test_memberships_expire_on_their_end_date_not_before(make_customer, default_tiers):
    today = timezone.localdate()
    ending, running = make_customer(), make_customer()
    for customer, days in ((ending, 30), (running, 31)):
        enroll(
            customer_id=customer.pk,
            level=default_tiers["vip"],
            duration_days=days,
            start_date=today - timedelta(days=30),
        )

    expired = expire_memberships(today=today)

    assert expired == 1
    assert dict(Membership.objects.values_list("customer_id", "status")) == {
        ending.pk: MembershipStatus.EXPIRED,
        running.pk: MembershipStatus.ACTIVE,
    }
    history = Membership.objects.get(customer=ending).history.order_by("-history_id")
    assert history.first().status == MembershipStatus.EXPIRED


def test_cancelling_ends_the_membership_and_the_rules_take_over(
    make_customer, manager, default_tiers
):
    customer = make_customer()
    membership = enroll(customer_id=customer.pk, level=default_tiers["vip"], duration_days=365)

    cancel_membership(membership=membership, reason="Refunded", actor=manager)

    membership.refresh_from_db()
    assert membership.status == MembershipStatus.CANCELLED
    event = AuditEvent.objects.filter(action=AuditAction.UPDATE, object_id=str(membership.pk))
    assert event.get().summary == {"status": "cancelled", "reason": "Refunded"}
    # Nothing keeps VIP now: the grace period of the tier starts.
    assert level_of(customer) == "vip"
    assert TierGrace.objects.get(customer=customer).grace_until == (
        timezone.localdate() + timedelta(days=default_tiers["vip"].grace_days)
    )


def test_only_an_active_membership_can_be_cancelled(make_customer, manager, default_tiers):
    customer = make_customer()
    membership = enroll(customer_id=customer.pk, level=default_tiers["vip"], duration_days=30)
    cancel_membership(membership=membership, reason="Refunded", actor=manager)

    with pytest.raises(BusinessError):
        cancel_membership(membership=membership, reason="Again", actor=manager)


def test_enrolling_an_unknown_customer_is_not_found(default_tiers):
    with pytest.raises(NotFound):
        enroll(customer_id=10**9, level=default_tiers["vip"], duration_days=30)
