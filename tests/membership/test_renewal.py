"""Renewing a membership and paying for memberships (spec 2.2.2, issue 11): the time left is kept,
and an order or payment reference pays once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.errors import BusinessError
from crm.models import AuditEvent
from membership.models import EnrollMethod, MembershipLevel, MembershipPurchase, MembershipStatus
from membership.services.enrollment import (
    Payment,
    PaymentAlreadyUsed,
    cancel_membership,
    enroll,
    renew_membership,
)

pytestmark = pytest.mark.django_db

RENEW = "/api/v1/membership/memberships/{}/renew"
ENROLL = "/api/v1/membership/enroll"


@pytest.fixture
def gold():
    return MembershipLevel.objects.get(code="vip")


@pytest.fixture
def member(make_customer, gold):
    customer = make_customer()
    return enroll(customer_id=customer.pk, level=gold, duration_days=30)


def test_a_renewal_adds_its_days_after_the_current_end_so_the_time_left_is_kept(member):
    end = member.end_date

    renewed = renew_membership(membership=member, duration_days=365)

    renewed.refresh_from_db()
    assert renewed.end_date == end + timedelta(days=365)
    assert renewed.status == MembershipStatus.ACTIVE
    assert renewed.start_date == timezone.localdate()


def test_a_renewal_is_audited_with_the_old_and_new_end(member, make_user):
    clerk = make_user("clerk")
    end = member.end_date

    renew_membership(membership=member, duration_days=90, actor=clerk)

    event = AuditEvent.objects.get(action="renew")
    assert event.actor == clerk
    assert event.summary["from"] == end.isoformat()
    assert event.summary["to"] == (end + timedelta(days=90)).isoformat()


def test_a_cancelled_membership_cannot_be_renewed(member):
    cancel_membership(membership=member, reason="moved away", actor=None)

    with pytest.raises(BusinessError) as refused:
        renew_membership(membership=member, duration_days=30)

    assert "membershipId" in refused.value.fields


def test_a_retried_renewal_with_the_same_payment_adds_the_days_once(member):
    end = member.end_date
    paid = Payment(reference="wx-pay-0001")

    renew_membership(membership=member, duration_days=365, payment=paid)
    renew_membership(membership=member, duration_days=365, payment=paid)

    member.refresh_from_db()
    assert member.end_date == end + timedelta(days=365)
    purchase = MembershipPurchase.objects.get()
    assert (purchase.membership, purchase.days) == (member, 365)


def test_a_payment_pays_once_across_customers(member, make_customer, gold):
    renew_membership(membership=member, duration_days=365, payment=Payment(reference="wx-1"))
    other = enroll(customer_id=make_customer().pk, level=gold, duration_days=30)

    with pytest.raises(PaymentAlreadyUsed):
        renew_membership(membership=other, duration_days=365, payment=Payment(reference="wx-1"))
    with pytest.raises(PaymentAlreadyUsed):
        enroll(
            customer_id=make_customer().pk,
            level=gold,
            duration_days=365,
            payment=Payment(reference="wx-1"),
        )

    other.refresh_from_db()
    assert other.end_date == timezone.localdate() + timedelta(days=30)


def test_an_enrolment_paid_by_an_order_is_linked_to_it_and_a_retry_returns_it(
    make_customer, gold, place_order
):
    customer = make_customer()
    order = place_order(customer, "299")
    paid = Payment(order=order)

    first = enroll(
        customer_id=customer.pk,
        level=gold,
        duration_days=365,
        method=EnrollMethod.PURCHASE,
        payment=paid,
    )
    again = enroll(
        customer_id=customer.pk,
        level=gold,
        duration_days=365,
        method=EnrollMethod.PURCHASE,
        payment=paid,
    )

    assert again.pk == first.pk
    assert MembershipPurchase.objects.get().order == order


def test_another_customers_order_cannot_pay(member, make_customer, place_order):
    someone_elses = place_order(make_customer(), "299")

    with pytest.raises(BusinessError) as refused:
        renew_membership(membership=member, duration_days=30, payment=Payment(order=someone_elses))

    assert "orderId" in refused.value.fields
    assert not MembershipPurchase.objects.exists()


class TestApi:
    def test_renews_and_answers_the_membership(self, client_as, member):
        end = member.end_date

        response = client_as("customer_service").post(
            RENEW.format(member.pk),
            {"duration": 365, "paymentReference": "wx-2"},
            format="json",
        )

        assert response.status_code == 200
        assert response.json()["data"]["endDate"] == (end + timedelta(days=365)).isoformat()

    def test_a_reused_payment_is_409_naming_the_reference(
        self, client_as, member, make_customer, gold
    ):
        client = client_as("customer_service")
        renewed = client.post(
            RENEW.format(member.pk), {"duration": 30, "paymentReference": "wx-3"}, format="json"
        )
        assert renewed.status_code == 200, renewed.json()
        body = {
            "customerId": make_customer().pk,
            "levelId": gold.pk,
            "duration": 30,
            "method": "purchase",
            "paymentReference": "wx-3",
        }

        response = client.post(ENROLL, body, format="json")

        assert response.status_code == 409
        assert response.json()["error"]["code"] == "payment_already_used"
        assert set(response.json()["error"]["fields"]) == {"paymentReference"}

    def test_needs_the_enrol_permission(self, client_as, member):
        response = client_as("finance").post(RENEW.format(member.pk), {"duration": 30})

        assert response.status_code == 403
