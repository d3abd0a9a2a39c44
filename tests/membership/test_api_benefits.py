"""The customer benefits API (spec 2.2.4): what applies to a customer now with stacking
resolved, recording a use, and the usage records."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Customer
from customers.services.orders import record_order
from membership.models import Benefit, BenefitUsage, MembershipLevel
from membership.services.levels import change_level
from tests.membership.conftest import BENEFIT_KEYS

pytestmark = pytest.mark.django_db

BENEFITS = "/api/v1/membership/benefits"
USAGES = "/api/v1/membership/benefit-usages"


@pytest.fixture
def vip_customer(make_customer):
    customer = make_customer()
    change_level(customer_id=customer.pk, level_code="vip", reason="test", actor=None)
    customer.refresh_from_db()
    return customer


def vip_benefit(kind):
    return Benefit.objects.get(level__code="vip", kind=kind)


def add_benefit(kind, value, group="", **fields):
    return Benefit.objects.create(
        level=MembershipLevel.objects.get(code="vip"),
        kind=kind,
        value=Decimal(value),
        description=f"{kind} {value}",
        description_en=f"{kind} {value}",
        exclusive_group=group,
        **fields,
    )


def use_url(benefit):
    return f"{BENEFITS}/{benefit.pk}/use"


def fields_of(response):
    return response.json()["error"]["fields"]


class TestCustomerBenefits:
    def test_shows_the_tiers_benefits_in_the_spec_shape(self, client_as, vip_customer):
        response = client_as("customer_service").get(BENEFITS, {"customerId": vip_customer.pk})

        assert response.status_code == 200
        data = response.json()["data"]
        assert set(data) == {
            "level",
            "benefits",
            "discountPercent",
            "amountOff",
            "pointsMultiplier",
        }
        assert data["level"] == "vip"
        assert [b["description"] for b in data["benefits"]] == [
            "1.5× points",
            "10% off dishes",
            "Free delivery",
            "Birthday noodles",
        ]
        assert set(data["benefits"][0]) == BENEFIT_KEYS
        assert data["benefits"][1]["id"] == str(vip_benefit("discount").pk)
        assert (data["discountPercent"], data["amountOff"], data["pointsMultiplier"]) == (
            10,
            0,
            1.5,
        )

    def test_stacking_is_visible_the_best_of_a_group_and_every_stackable_one(
        self, client_as, vip_customer
    ):
        beaten = vip_benefit("discount")
        best = add_benefit("discount", "12", group="discount", sort_order=10)
        stackable = add_benefit("discount", "3", sort_order=11)
        add_benefit("points_multiplier", "1.1", sort_order=12)
        add_benefit("gift", "0", valid_until=timezone.localdate() - timedelta(days=1))

        data = client_as("marketing").get(BENEFITS, {"customerId": vip_customer.pk}).json()["data"]

        listed = [b["id"] for b in data["benefits"]]
        assert str(best.pk) in listed
        assert str(stackable.pk) in listed
        assert str(beaten.pk) not in listed  # 10% loses to 12% in its group
        assert len(listed) == 6
        assert data["discountPercent"] == 15
        assert data["pointsMultiplier"] == 1.6

    def test_the_best_of_a_group_is_chosen_on_the_order_amount_or_the_average_order(
        self, client_as, vip_customer
    ):
        # vip's 10% off dishes against ¥25 off, in its group.
        amount_off = add_benefit("amount_off", "25", group="discount", sort_order=10)
        client = client_as("marketing")

        def listed(**query):
            response = client.get(BENEFITS, {"customerId": vip_customer.pk, **query})
            return response.json()["data"]

        on_200 = listed(orderAmount="200")
        assert str(amount_off.pk) in [b["id"] for b in on_200["benefits"]]
        assert (on_200["discountPercent"], on_200["amountOff"]) == (0, 25)
        on_400 = listed(orderAmount="400")
        assert (on_400["discountPercent"], on_400["amountOff"]) == (10, 0)
        Customer.objects.filter(pk=vip_customer.pk).update(avg_order_value=Decimal("400"))
        assert listed()["discountPercent"] == 10

    def test_costs_the_same_queries_for_any_number_of_benefits(
        self, client_as, vip_customer, django_assert_max_num_queries
    ):
        client = client_as("marketing")
        client.get(BENEFITS, {"customerId": vip_customer.pk})
        for order in range(10):
            add_benefit("gift", "0", sort_order=20 + order)

        # The customer's tier and the tier's benefits, inside the request's savepoint.
        with django_assert_max_num_queries(4):
            response = client.get(BENEFITS, {"customerId": vip_customer.pk})

        assert len(response.json()["data"]["benefits"]) == 14

    def test_customer_id_is_required_and_must_exist(self, client_as):
        client = client_as("marketing")

        missing = client.get(BENEFITS)
        unknown = client.get(BENEFITS, {"customerId": 999999})

        assert missing.status_code == 400
        assert set(fields_of(missing)) == {"customerId"}
        assert unknown.status_code == 404
        assert fields_of(unknown) == {"customerId": ["No customer with this id."]}

    def test_needs_the_view_permission(self, client_as, vip_customer):
        assert client_as().get(BENEFITS, {"customerId": vip_customer.pk}).status_code == 403


USAGE_KEYS = {
    "id",
    "customerId",
    "benefitId",
    "type",
    "description",
    "orderId",
    "value",
    "note",
    "actor",
    "usedAt",
    "reversedAt",
}


class TestUse:
    def test_records_a_use_on_an_order(self, client_as, vip_customer):
        order = record_order(
            actor=None,
            source="pos",
            external_id="B-1",
            placed_at=timezone.now(),
            amount=Decimal("120"),
            customer_id=vip_customer.pk,
            items=[{"dish": "烤鸭", "quantity": 1, "price": Decimal("120")}],
        ).order
        benefit = vip_benefit("discount")
        body = {
            "customerId": str(vip_customer.pk),
            "orderId": str(order.pk),
            "value": "12.00",
            "note": "堂食",
        }

        response = client_as("operations").post(use_url(benefit), body, format="json")

        assert response.status_code == 201
        data = response.json()["data"]
        assert set(data) == USAGE_KEYS
        assert (data["benefitId"], data["orderId"], data["value"], data["type"]) == (
            str(benefit.pk),
            str(order.pk),
            12.0,
            "discount",
        )
        usage = BenefitUsage.objects.get()
        assert (usage.customer, usage.order, usage.note) == (vip_customer, order, "堂食")
        assert usage.actor.username == data["actor"]

    def test_a_repeated_idempotency_key_returns_the_first_use_with_200(
        self, client_as, vip_customer
    ):
        client = client_as("operations")
        body = {"customerId": str(vip_customer.pk), "value": "18.00"}
        url = use_url(vip_benefit("birthday"))

        first = client.post(url, body, format="json", headers={"Idempotency-Key": "till-1"})
        again = client.post(url, body, format="json", headers={"Idempotency-Key": "till-1"})
        other = client.post(
            url, {**body, "value": "20.00"}, format="json", headers={"Idempotency-Key": "till-1"}
        )

        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["data"]["id"] == first.json()["data"]["id"]
        assert BenefitUsage.objects.count() == 1
        assert other.status_code == 409
        assert set(fields_of(other)) == {"Idempotency-Key"}

    def test_a_used_up_benefit_is_refused_with_its_limit(self, client_as, vip_customer):
        noodles = vip_benefit("birthday")
        noodles.usage_limit, noodles.usage_period = 1, "year"
        noodles.save()
        client = client_as("operations")
        body = {"customerId": str(vip_customer.pk)}

        assert client.post(use_url(noodles), body, format="json").status_code == 201
        refused = client.post(use_url(noodles), body, format="json")

        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "benefit_usage_limit_reached"
        assert set(fields_of(refused)) == {"benefitId"}

    def test_a_benefit_that_does_not_apply_is_refused_naming_benefit_id(
        self, client_as, make_customer, vip_customer
    ):
        regular = make_customer()
        stacked_out = vip_benefit("discount")
        add_benefit("discount", "12", group="discount")
        client = client_as("customer_service")

        of_another_tier = client.post(
            use_url(stacked_out), {"customerId": regular.pk}, format="json"
        )
        beaten_in_its_group = client.post(
            use_url(stacked_out), {"customerId": vip_customer.pk}, format="json"
        )

        for response in (of_another_tier, beaten_in_its_group):
            assert response.status_code == 400
            assert set(fields_of(response)) == {"benefitId"}
        assert not BenefitUsage.objects.exists()

    def test_another_customers_order_is_refused(self, client_as, make_customer, vip_customer):
        order = record_order(
            actor=None,
            source="pos",
            external_id="B-2",
            placed_at=timezone.now(),
            amount=Decimal("50"),
            customer_id=make_customer().pk,
            items=[{"dish": "面", "quantity": 1, "price": Decimal("50")}],
        ).order
        body = {"customerId": vip_customer.pk, "orderId": order.pk}

        response = client_as("manager").post(use_url(vip_benefit("birthday")), body, format="json")

        assert response.status_code == 400
        assert set(fields_of(response)) == {"orderId"}

    @pytest.mark.parametrize(
        ("body", "field"),
        [({"customerId": 999999}, "customerId"), ({"orderId": 999999}, "orderId")],
    )
    def test_unknown_references_are_404_naming_the_field(
        self, client_as, vip_customer, body, field
    ):
        response = client_as("manager").post(
            use_url(vip_benefit("birthday")),
            {"customerId": vip_customer.pk, **body},
            format="json",
        )

        assert response.status_code == 404
        assert set(fields_of(response)) == {field}

    def test_an_unknown_benefit_is_404(self, client_as, vip_customer):
        response = client_as("manager").post(
            f"{BENEFITS}/999999/use", {"customerId": vip_customer.pk}, format="json"
        )

        assert response.status_code == 404

    @pytest.mark.parametrize("role", ["marketing", "finance"])
    def test_needs_the_usage_permission(self, client_as, vip_customer, role):
        response = client_as(role).post(
            use_url(vip_benefit("birthday")), {"customerId": vip_customer.pk}, format="json"
        )

        assert response.status_code == 403
        assert not BenefitUsage.objects.exists()


class TestUsages:
    def test_lists_one_customers_uses_newest_first_at_a_fixed_cost(
        self, client_as, make_user, make_customer, vip_customer, django_assert_max_num_queries
    ):
        other = make_customer()
        change_level(customer_id=other.pk, level_code="vip", reason="test", actor=None)
        client = client_as("finance")
        client.get(USAGES)
        kinds = ["birthday", "free_delivery", "discount"] * 3
        for number, kind in enumerate(kinds):
            BenefitUsage.objects.create(
                benefit=vip_benefit(kind),
                customer=vip_customer,
                actor=make_user(f"waiter-{number}"),
            )
        BenefitUsage.objects.create(benefit=vip_benefit("birthday"), customer=other)

        # The count and the page (benefits and actors joined), inside the request's savepoint.
        with django_assert_max_num_queries(4):
            response = client.get(USAGES, {"customerId": vip_customer.pk})

        assert response.status_code == 200
        items = response.json()["data"]["items"]
        assert [item["type"] for item in items] == list(reversed(kinds))
        assert items[0]["actor"] == "waiter-8"
        assert set(items[0]) == USAGE_KEYS
        assert {item["customerId"] for item in items} == {str(vip_customer.pk)}
        assert client.get(USAGES).json()["data"]["pagination"]["total"] == 10

    def test_needs_the_view_permission(self, client_as):
        assert client_as().get(USAGES).status_code == 403
