"""One redemption path (issue 11): points redeemed for an order not recorded yet are held against
its reference, the cap counts every hold, recording the order links them (and is its pointsUsed),
and its refund returns them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.errors import BusinessError
from crm.models import AuditEvent
from customers.models import Customer, Order
from customers.services.orders import record_order, refund_order
from membership.models import PointsEntry, PointsKind
from membership.services.nightly import run_nightly
from membership.services.points import adjust_points
from membership.services.redemption import OrderRef, redeem_points, release_held_points
from tests.membership.conftest import assert_ledger_consistent

pytestmark = pytest.mark.django_db

REF = OrderRef("pos", "T-88")


@pytest.fixture
def guest(make_customer, points_policy):
    customer = make_customer()
    adjust_points(customer_id=customer.pk, adjustment=20_000, reason="test", actor=None)
    return customer


def points_of(customer):
    return Customer.objects.values_list("points", flat=True).get(pk=customer.pk)


def hold(customer, points, *, amount="100", ref=REF):
    return redeem_points(
        customer_id=customer.pk, points=points, order_amount=Decimal(amount), order_ref=ref
    )


def record(customer, amount="100", *, points_used=0, ref=REF, callbacks=None):
    def run():
        return record_order(
            actor=None,
            source=ref.source,
            external_id=ref.external_id,
            placed_at=timezone.now(),
            amount=Decimal(amount),
            points_used=points_used,
            customer_id=customer.pk,
            items=[{"dish": "烤鸭", "quantity": 1, "price": Decimal(amount)}],
        ).order

    if callbacks is None:
        return run()
    with callbacks(execute=True):
        return run()


def test_repeated_redemptions_for_one_pending_order_share_its_cap(guest):
    # 100 yuan, at most 50% paid with points at 100 points a yuan: 5,000 points in all.
    hold(guest, 3000)

    with pytest.raises(BusinessError) as refused:
        hold(guest, 3000)

    assert "points" in refused.value.fields
    hold(guest, 2000)
    assert points_of(guest) == 15_000


def test_another_customer_cannot_hold_points_for_the_same_order(guest, make_customer):
    hold(guest, 1000)
    other = make_customer()
    adjust_points(customer_id=other.pk, adjustment=5000, reason="test", actor=None)

    with pytest.raises(BusinessError) as refused:
        hold(other, 1000)

    assert "orderExternalId" in refused.value.fields


def test_recording_the_order_links_the_held_points_and_sets_points_used(guest):
    hold(guest, 2000)
    hold(guest, 1000)

    order = record(guest)

    redeemed = PointsEntry.objects.filter(customer=guest, kind=PointsKind.REDEEM)
    assert set(redeemed.values_list("order_id", flat=True)) == {order.pk}
    assert Order.objects.get(pk=order.pk).points_used == 3000
    assert points_of(guest) == 17_000


def test_a_redemption_for_an_order_already_recorded_is_made_against_it(guest):
    order = record(guest)

    hold(guest, 1000)

    assert PointsEntry.objects.get(kind=PointsKind.REDEEM).order_id == order.pk


def test_points_used_that_differ_from_the_held_ones_reject_the_order(guest):
    hold(guest, 2000)

    with pytest.raises(BusinessError) as refused:
        record(guest, points_used=2500)

    assert "pointsUsed" in refused.value.fields
    assert not Order.objects.exists()
    assert points_of(guest) == 18_000


def test_points_used_without_a_hold_are_redeemed_with_the_order(guest):
    order = record(guest, points_used=1500)

    entry = PointsEntry.objects.get(kind=PointsKind.REDEEM)
    assert (entry.order_id, entry.delta) == (order.pk, -1500)
    assert points_of(guest) == 18_500
    assert_ledger_consistent(guest.pk)


def test_points_used_beyond_the_cap_or_balance_reject_the_order(guest):
    with pytest.raises(BusinessError) as refused:
        record(guest, points_used=5001)

    assert "pointsUsed" in refused.value.fields
    assert not Order.objects.exists()
    assert points_of(guest) == 20_000


def test_holds_above_the_recorded_orders_cap_reject_it(guest):
    hold(guest, 5000, amount="100")  # the order turns out to cost 60 yuan: 3,000 at most

    with pytest.raises(BusinessError) as refused:
        record(guest, "60")

    assert "pointsUsed" in refused.value.fields
    assert not Order.objects.exists()


def test_a_refund_of_the_order_returns_the_points_held_for_it(
    guest, django_capture_on_commit_callbacks
):
    hold(guest, 4000)
    order = record(guest, callbacks=django_capture_on_commit_callbacks)
    after_order = points_of(guest)

    with django_capture_on_commit_callbacks(execute=True):
        refund_order(order=order, amount=Decimal("100"), reason="test", actor=None)

    returned = PointsEntry.objects.filter(order=order, kind=PointsKind.REFUND, delta__gt=0)
    assert sum(returned.values_list("delta", flat=True)) == 4000
    assert points_of(guest) == after_order + 4000 - 100  # and the 100 earned taken back
    assert_ledger_consistent(guest.pk)


class TestApi:
    def test_the_order_api_refuses_points_used_that_differ_from_the_redemption(
        self, client_as, guest
    ):
        client = client_as("manager")
        redeem = {
            "customerId": guest.pk,
            "points": 1000,
            "orderAmount": "100",
            "orderSource": "pos",
            "orderExternalId": "T-9",
        }
        redeemed = client.post("/api/v1/membership/points/redeem", redeem, format="json")
        assert redeemed.status_code == 200
        order = {
            "source": "pos",
            "externalId": "T-9",
            "customerId": str(guest.pk),
            "placedAt": timezone.now().isoformat(),
            "amount": "100",
            "pointsUsed": 900,
            "items": [{"dish": "烤鸭", "quantity": 1, "price": "100"}],
        }

        response = client.post("/api/v1/orders", order, format="json")

        assert response.status_code == 400
        assert set(response.json()["error"]["fields"]) == {"pointsUsed"}


# --- releasing a hold --------------------------------------------------------------------------


def test_releasing_a_hold_gives_the_points_back_once_and_the_order_finds_none(guest):
    hold(guest, 3000)
    hold(guest, 1000)

    assert release_held_points(ref=REF) == 4000
    assert release_held_points(ref=REF) == 0, "a repeat releases nothing"

    assert points_of(guest) == 20_000
    entry = PointsEntry.objects.get(kind=PointsKind.RELEASE)
    assert entry.delta == 4000 and "pos/T-88" in entry.reason
    assert AuditEvent.objects.filter(action="points_release").count() == 1
    order = record(guest)
    assert order.points_used == 0, "nothing is held any more"
    hold(guest, 5000, ref=OrderRef("pos", "T-89"))  # the cap of another order is whole again
    assert_ledger_consistent(guest.pk)


def test_the_points_of_a_released_hold_may_be_redeemed_by_the_order_after_all(guest):
    hold(guest, 3000)
    release_held_points(ref=REF)

    order = record(guest, points_used=2000)

    assert order.points_used == 2000
    assert points_of(guest) == 18_000
    assert_ledger_consistent(guest.pk)


def test_the_nightly_run_releases_the_holds_of_orders_never_recorded(guest, settings):
    settings.POINTS_HOLD_HOURS = 24
    hold(guest, 3000)
    hold(guest, 1000, ref=OrderRef("pos", "T-fresh"))
    PointsEntry.objects.filter(held_external_id=REF.external_id).update(
        created_at=timezone.now() - timedelta(hours=25)
    )

    run = run_nightly()

    assert (run.counts["holds_released_orders"], run.counts["holds_released_points"]) == (1, 3000)
    assert points_of(guest) == 19_000, "the fresh hold stays"
    assert run_nightly().counts["holds_released_points"] == 0


def test_the_release_endpoint(api_client, make_user, guest):
    hold(guest, 3000)
    body = {"orderSource": REF.source, "orderExternalId": REF.external_id}
    cashier = api_client(make_user("cashier", roles=["operations"]))

    first = cashier.post("/api/v1/membership/points/release", body, format="json")
    again = cashier.post("/api/v1/membership/points/release", body, format="json")
    refused = api_client(make_user("mk", roles=["marketing"])).post(
        "/api/v1/membership/points/release", body, format="json"
    )

    assert first.json() == {"success": True, "data": {"releasedPoints": 3000}}
    assert again.json()["data"] == {"releasedPoints": 0}
    assert refused.status_code == 403
