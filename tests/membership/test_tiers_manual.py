"""A tier changed by hand (spec 2.2.3 手动调整): membership.services.levels.change_level. Who may
call it is the API's business (tests of the API); here, what it does and refuses."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.errors import BusinessError, NotFound
from crm.models import AuditEvent
from customers.models import Customer
from membership.audit_actions import MembershipAuditAction
from membership.models import ChangeKind, LevelChange, NotificationStatus, TierGrace
from membership.services.levels import change_level

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(make_user):
    return make_user("manager", roles=["manager"])


def test_a_manual_change_sets_the_tier_and_records_who_and_why(make_customer, manager):
    customer = make_customer()

    change = change_level(
        customer_id=customer.pk, level_code="vip", reason="Hosted our anniversary", actor=manager
    )

    assert Customer.objects.values_list("level", flat=True).get(pk=customer.pk) == "vip"
    assert (change.from_level, change.to_level) == ("regular", "vip")
    assert change.kind == ChangeKind.MANUAL
    assert (change.reason, change.actor, change.notification_status) == (
        "Hosted our anniversary",
        manager,
        NotificationStatus.PENDING,
    )


def test_a_manual_change_is_audited(make_customer, manager):
    customer = make_customer()

    change_level(customer_id=customer.pk, level_code="svip", reason="Owner's friend", actor=manager)

    event = AuditEvent.objects.get(action=MembershipAuditAction.LEVEL_CHANGE)
    assert (event.actor, event.object_id) == (manager, str(customer.pk))
    assert event.summary == {"from": "regular", "to": "svip", "reason": "Owner's friend"}


def test_a_manual_change_ends_a_grace_period(make_customer, manager):
    customer = make_customer()
    Customer.objects.filter(pk=customer.pk).update(level="vip")
    TierGrace.objects.create(
        customer=customer, level="vip", grace_until=timezone.localdate() + timedelta(days=3)
    )

    change_level(customer_id=customer.pk, level_code="member", reason="Asked for it", actor=manager)

    assert not TierGrace.objects.filter(customer=customer).exists()


def test_the_same_tier_is_refused(make_customer, manager):
    customer = make_customer()

    with pytest.raises(BusinessError) as refused:
        change_level(customer_id=customer.pk, level_code="regular", reason="No-op", actor=manager)

    assert "levelId" in refused.value.fields
    assert not LevelChange.objects.exists()
    assert not AuditEvent.objects.filter(action=MembershipAuditAction.LEVEL_CHANGE).exists()


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reason_is_required(make_customer, manager, reason):
    customer = make_customer()

    with pytest.raises(BusinessError) as refused:
        change_level(customer_id=customer.pk, level_code="vip", reason=reason, actor=manager)

    assert "reason" in refused.value.fields
    assert Customer.objects.values_list("level", flat=True).get(pk=customer.pk) == "regular"


def test_an_unknown_tier_or_customer_is_not_found(make_customer, manager):
    customer = make_customer()

    with pytest.raises(NotFound):
        change_level(customer_id=customer.pk, level_code="gold", reason="Why not", actor=manager)
    with pytest.raises(NotFound):
        change_level(customer_id=customer.pk + 1, level_code="vip", reason="Why not", actor=manager)
