"""The points API (spec 2.2.5, 4.2): adjustments and redemptions, idempotent by the
Idempotency-Key header, and a customer's ledger."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import resolve
from django.utils import timezone

from crm.models import AuditEvent
from customers.services.orders import record_order
from membership.api.points import CustomerPointsView
from membership.models import PointsEntry
from membership.services.points import adjust_points

pytestmark = pytest.mark.django_db

ADJUST = "/api/v1/membership/points/adjust"
REDEEM = "/api/v1/membership/points/redeem"


def fields_of(response):
    return response.json()["error"]["fields"]


def balance_of(customer):
    customer.refresh_from_db(fields=["points"])
    return customer.points


def with_points(customer, points):
    adjust_points(customer_id=customer.pk, adjustment=points, reason="seed", actor=None)
    return customer


def points_url(customer_id):
    return f"/api/v1/customers/{customer_id}/points"


class TestAdjust:
    def test_has_the_spec_shape(self, client_as, make_customer):
        customer = with_points(make_customer(), 5000)
        body = {"customerId": str(customer.pk), "adjustment": 100, "reason": "消费奖励"}

        response = client_as("finance").post(ADJUST, body, format="json")

        assert response.status_code == 200
        assert response.json() == {
            "success": True,
            "data": {"currentPoints": 5100, "adjustment": 100},
        }
        assert balance_of(customer) == 5100
        entry = PointsEntry.objects.filter(customer=customer).latest("id")
        assert (entry.kind, entry.reason, entry.actor.username) == (
            "adjust",
            "消费奖励",
            response.wsgi_request.user.username,
        )
        assert AuditEvent.objects.filter(action="points_adjust", object_id=str(entry.pk)).exists()

    def test_a_repeat_with_the_same_key_returns_the_first_result(self, client_as, make_customer):
        customer = make_customer()
        client = client_as("manager")
        body = {"customerId": customer.pk, "adjustment": 100, "reason": "补偿"}

        first = client.post(ADJUST, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        client.post(ADJUST, {**body, "adjustment": 7}, format="json")
        repeat = client.post(ADJUST, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

        assert first.status_code == repeat.status_code == 200
        assert first.json() == repeat.json()
        assert repeat.json()["data"] == {"currentPoints": 100, "adjustment": 100}
        assert balance_of(customer) == 107
        assert PointsEntry.objects.filter(customer=customer).count() == 2
        assert AuditEvent.objects.filter(action="points_adjust").count() == 2

    def test_a_reused_key_with_another_body_is_409(self, client_as, make_customer):
        customer = make_customer()
        client = client_as("manager")
        body = {"customerId": customer.pk, "adjustment": 100, "reason": "补偿"}
        client.post(ADJUST, body, format="json", HTTP_IDEMPOTENCY_KEY="k-2")

        response = client.post(
            ADJUST, {**body, "adjustment": 200}, format="json", HTTP_IDEMPOTENCY_KEY="k-2"
        )

        assert response.status_code == 409
        assert response.json()["error"]["code"] == "idempotency_key_reused"
        assert set(fields_of(response)) == {"Idempotency-Key"}
        assert balance_of(customer) == 100

    def test_a_key_longer_than_128_characters_is_refused(self, client_as, make_customer):
        body = {"customerId": make_customer().pk, "adjustment": 1, "reason": "x"}

        response = client_as("manager").post(
            ADJUST, body, format="json", HTTP_IDEMPOTENCY_KEY="k" * 129
        )

        assert response.status_code == 400
        assert fields_of(response) == {"Idempotency-Key": ["At most 128 characters."]}
        assert not PointsEntry.objects.exists()

    def test_a_deduction_beyond_the_balance_is_400_naming_adjustment(
        self, client_as, make_customer
    ):
        customer = with_points(make_customer(), 100)
        body = {"customerId": customer.pk, "adjustment": -101, "reason": "扣减"}

        response = client_as("finance").post(ADJUST, body, format="json")

        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "not_enough_points"
        assert error["message"] == "Only 100 points are available; ask for at most that many."
        assert set(error["fields"]) == {"adjustment"}
        assert balance_of(customer) == 100

    @pytest.mark.parametrize(
        ("change", "status", "field"),
        [
            ({"adjustment": 0}, 400, "adjustment"),
            ({"adjustment": 10**9}, 400, "adjustment"),
            ({"reason": ""}, 400, "reason"),
            ({"customerId": 999999}, 404, "customerId"),
        ],
    )
    def test_errors_name_the_field(self, client_as, make_customer, change, status, field):
        body = {"customerId": make_customer().pk, "adjustment": 10, "reason": "x", **change}

        response = client_as("finance").post(ADJUST, body, format="json")

        assert response.status_code == status
        assert set(fields_of(response)) == {field}
        assert not PointsEntry.objects.exists()

    @pytest.mark.parametrize("role", ["marketing", "customer_service", "operations", None])
    def test_needs_the_adjust_permission(self, client_as, make_customer, role):
        customer = make_customer()
        body = {"customerId": customer.pk, "adjustment": 10, "reason": "x"}

        assert client_as(role).post(ADJUST, body, format="json").status_code == 403
        assert balance_of(customer) == 0


# An order the ordering system has not recorded yet.
PENDING = {"orderSource": "pos", "orderExternalId": "P-100"}


class TestRedeem:
    def test_redeems_points_for_yuan_off(self, client_as, make_customer):
        customer = with_points(make_customer(), 1000)
        body = {"customerId": str(customer.pk), "points": 500, "orderAmount": "100.00", **PENDING}

        response = client_as("customer_service").post(REDEEM, body, format="json")

        assert response.status_code == 200
        assert response.json()["data"] == {
            "redeemedPoints": 500,
            "deduction": 5.0,
            "currentPoints": 500,
        }
        assert balance_of(customer) == 500

    def test_a_repeat_with_the_same_key_redeems_once(self, client_as, make_customer):
        customer = with_points(make_customer(), 1000)
        client = client_as("operations")
        body = {"customerId": customer.pk, "points": 300, "orderAmount": "100", **PENDING}

        first = client.post(REDEEM, body, format="json", HTTP_IDEMPOTENCY_KEY="pos-7")
        repeat = client.post(REDEEM, body, format="json", HTTP_IDEMPOTENCY_KEY="pos-7")
        other = client.post(
            REDEEM, {**body, "points": 100}, format="json", HTTP_IDEMPOTENCY_KEY="pos-7"
        )

        assert first.status_code == repeat.status_code == 200
        assert first.json() == repeat.json()
        assert other.status_code == 409
        assert balance_of(customer) == 700
        (event,) = AuditEvent.objects.filter(action="points_redeem")
        assert event.summary == {
            "customer": customer.pk,
            "points": 300,
            "deduction": "3.00",
            "order": None,
            "held_for": [PENDING["orderSource"], PENDING["orderExternalId"]],
        }

    def test_redeems_against_a_recorded_order(self, client_as, make_customer):
        customer = with_points(make_customer(), 10_000)
        order = record_order(
            actor=None,
            source="pos",
            external_id="R-1",
            placed_at=timezone.now(),
            amount=Decimal("80"),
            customer_id=customer.pk,
            items=[{"dish": "水煮鱼", "quantity": 1, "price": Decimal("80")}],
        ).order
        points_after_order = balance_of(customer)
        body = {"customerId": customer.pk, "points": 4000, "orderId": str(order.pk)}

        response = client_as("manager").post(REDEEM, body, format="json")

        assert response.status_code == 200
        assert response.json()["data"]["deduction"] == 40.0
        entry = PointsEntry.objects.filter(kind="redeem").get()
        assert entry.order_id == order.pk
        assert balance_of(customer) == points_after_order - 4000

    @pytest.mark.parametrize(
        ("change", "status", "field"),
        [
            # 50% of 2 yuan is 1 yuan, 100 points.
            ({"points": 101, "orderAmount": "2"}, 400, "points"),
            ({"points": 1001, "orderAmount": "100000"}, 400, "points"),
            ({"points": 0}, 400, "points"),
            ({"orderAmount": None}, 400, "orderAmount"),
            ({"orderId": 999999}, 404, "orderId"),
            ({"customerId": 999999}, 404, "customerId"),
        ],
    )
    def test_errors_name_the_field(self, client_as, make_customer, change, status, field):
        customer = with_points(make_customer(), 1000)
        body = {
            "customerId": customer.pk,
            "points": 100,
            "orderAmount": "100",
            **PENDING,
            **change,
        }

        response = client_as("manager").post(REDEEM, body, format="json")

        assert response.status_code == status
        assert set(fields_of(response)) == {field}
        assert balance_of(customer) == 1000

    def test_another_customers_order_is_refused(self, client_as, make_customer):
        customer, other = with_points(make_customer(), 1000), make_customer()
        order = record_order(
            actor=None,
            source="pos",
            external_id="R-2",
            placed_at=timezone.now(),
            amount=Decimal("80"),
            customer_id=other.pk,
            items=[{"dish": "水煮鱼", "quantity": 1, "price": Decimal("80")}],
        ).order
        body = {"customerId": customer.pk, "points": 100, "orderId": order.pk}

        response = client_as("manager").post(REDEEM, body, format="json")

        assert response.status_code == 400
        assert fields_of(response) == {"orderId": ["Not this customer's order."]}

    @pytest.mark.parametrize("role", ["marketing", "finance", None])
    def test_needs_the_redeem_permission(self, client_as, make_customer, role):
        customer = with_points(make_customer(), 1000)
        body = {"customerId": customer.pk, "points": 100, "orderAmount": "100", **PENDING}

        assert client_as(role).post(REDEEM, body, format="json").status_code == 403
        assert balance_of(customer) == 1000


class TestLedger:
    def test_shows_the_balance_what_expires_soon_and_the_ledger(self, client_as, make_customer):
        customer = make_customer()
        client = client_as("finance")
        client.post(
            ADJUST,
            {"customerId": customer.pk, "adjustment": 300, "reason": "开卡礼"},
            format="json",
        )
        with_points(customer, 200)
        with_points(customer, -50)
        soon = timezone.localdate() + timedelta(days=5)
        PointsEntry.objects.filter(customer=customer, delta=300).update(expires_on=soon)

        response = client.get(points_url(customer.pk))

        assert response.status_code == 200
        data = response.json()["data"]
        assert set(data) == {"balance", "expiringSoon", "expiringBy", "items", "pagination"}
        assert data["balance"] == 450
        # The deduction took 50 of the oldest-expiring lot: 250 of it is left, due in 5 days.
        assert data["expiringSoon"] == 250
        assert data["expiringBy"] == (timezone.localdate() + timedelta(days=30)).isoformat()
        assert [item["delta"] for item in data["items"]] == [-50, 200, 300]
        newest, _, oldest = data["items"]
        assert set(newest) == {
            "id",
            "delta",
            "kind",
            "reason",
            "orderId",
            "balanceAfter",
            "expiresOn",
            "createdAt",
            "actor",
        }
        assert (newest["balanceAfter"], newest["expiresOn"], newest["actor"]) == (450, None, None)
        assert oldest["actor"] == response.wsgi_request.user.username
        assert (oldest["reason"], oldest["expiresOn"]) == ("开卡礼", soon.isoformat())
        assert data["pagination"]["total"] == 3

    def test_pages_the_ledger_at_a_fixed_number_of_queries(
        self, client_as, make_customer, django_assert_max_num_queries
    ):
        customer = make_customer()
        client = client_as("finance")
        client.get(points_url(customer.pk))
        for points in range(1, 13):
            client.post(
                ADJUST,
                {"customerId": customer.pk, "adjustment": points, "reason": "x"},
                format="json",
            )

        # Customer, policy, points expiring soon, count, page (actors joined), in a savepoint.
        with django_assert_max_num_queries(7):
            response = client.get(points_url(customer.pk), {"limit": 5, "page": 2})

        data = response.json()["data"]
        assert [item["delta"] for item in data["items"]] == [7, 6, 5, 4, 3]
        assert data["pagination"]["total"] == 12
        assert data["balance"] == 78

    def test_an_unknown_customer_is_404(self, client_as):
        assert client_as("finance").get(points_url(999999)).status_code == 404

    def test_needs_the_view_permission(self, client_as, api_client, make_customer):
        customer = make_customer()

        assert client_as().get(points_url(customer.pk)).status_code == 403
        assert api_client().get(points_url(customer.pk)).status_code == 401

    def test_lives_beside_the_customer_routes_without_shadowing_them(
        self, client_as, make_customer
    ):
        customer = make_customer()

        assert resolve(points_url(customer.pk)).func.view_class is CustomerPointsView
        assert client_as("manager").get(f"/api/v1/customers/{customer.pk}").status_code == 200
