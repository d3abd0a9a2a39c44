"""The tier API (spec 2.2.1, 4.2): the public list of tiers in the spec's shape, and tiers and
their benefits edited by managers through the services."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.models import AuditEvent
from membership.models import Benefit, BenefitUsage, MembershipLevel
from membership.services.enrollment import enroll, expire_memberships
from membership.services.levels import change_level
from tests.membership.conftest import BENEFIT_KEYS

pytestmark = pytest.mark.django_db

LEVELS = "/api/v1/membership/levels"
LEVEL_KEYS = {
    "id",
    "name",
    "icon",
    "upgradeCondition",
    "benefits",
    "code",
    "sortOrder",
    "retention",
}


def tier(code):
    return MembershipLevel.objects.get(code=code)


def level_url(level):
    return f"{LEVELS}/{level.pk}"


def benefits_url(level, benefit=None):
    url = f"{LEVELS}/{level.pk}/benefits"
    return f"{url}/{benefit.pk}" if benefit else url


def fields_of(response):
    return response.json()["error"]["fields"]


class TestList:
    def test_has_the_spec_shape_with_code_sort_order_and_retention(self, client_as):
        response = client_as("marketing").get(LEVELS)

        assert response.status_code == 200
        body = response.json()
        assert body["success"] is True
        levels = body["data"]["levels"]
        assert [level["code"] for level in levels] == ["regular", "member", "vip", "svip"]
        vip = levels[2]
        assert set(vip) == LEVEL_KEYS
        assert vip["id"] == str(tier("vip").pk)
        assert vip["name"] == "VIP"
        assert vip["icon"] is None
        assert vip["sortOrder"] == 2
        assert vip["upgradeCondition"] == {
            "amount": 5000,
            "orders": 30,
            "points": None,
            "match": "any",
            "windowDays": 365,
        }
        assert vip["retention"] == {
            "amount": 3000,
            "orders": None,
            "graceDays": 30,
            "downgradeTo": None,
        }
        assert vip["benefits"] == [
            "1.5× points",
            "10% off dishes",
            "Free delivery",
            "Birthday noodles",
        ]

    def test_names_and_benefits_follow_the_request_language(self, client_as):
        levels = client_as("marketing", language="zh-hans").get(LEVELS).json()["data"]["levels"]

        assert levels[0]["name"] == "普通会员"
        assert levels[1]["benefits"] == ["积分1.2倍", "菜品95折"]

    def test_lists_only_active_benefits_in_force_today(self, client_as):
        member = tier("member")
        today = timezone.localdate()
        Benefit.objects.create(
            level=member,
            kind="gift",
            description="旧",
            description_en="Old",
            valid_until=today - timedelta(days=1),
            sort_order=5,
        )
        Benefit.objects.create(
            level=member,
            kind="gift",
            description="新",
            description_en="Soon",
            valid_from=today + timedelta(days=1),
            sort_order=6,
        )
        Benefit.objects.create(
            level=member,
            kind="gift",
            description="停",
            description_en="Off",
            is_active=False,
            sort_order=7,
        )
        Benefit.objects.create(
            level=member,
            kind="gift",
            description="今",
            description_en="Now",
            valid_from=today,
            valid_until=today,
            sort_order=8,
        )

        levels = client_as("marketing").get(LEVELS).json()["data"]["levels"]

        assert levels[1]["benefits"] == ["1.2× points", "5% off dishes", "Now"]

    def test_icon_is_an_absolute_url(self, client_as):
        MembershipLevel.objects.filter(code="svip").update(icon="membership/icons/svip.png")

        svip = client_as("marketing").get(LEVELS).json()["data"]["levels"][3]

        assert svip["icon"] == "http://testserver/media/membership/icons/svip.png"

    def test_costs_the_same_queries_for_any_number_of_tiers(
        self, client_as, django_assert_max_num_queries
    ):
        client = client_as("marketing")
        client.get(LEVELS)  # the user's permissions are read once, then cached
        for rank in range(10, 16):
            level = MembershipLevel.objects.create(
                code=f"t{rank}", name=f"T{rank}", sort_order=rank
            )
            Benefit.objects.create(level=level, kind="gift", description="礼")

        # The tiers and their benefits, inside the request's savepoint (ATOMIC_REQUESTS).
        with django_assert_max_num_queries(4):
            response = client.get(LEVELS)

        assert len(response.json()["data"]["levels"]) == 10

    def test_needs_authentication_and_the_view_permission(self, client_as, api_client):
        assert api_client().get(LEVELS).status_code == 401
        assert client_as().get(LEVELS).status_code == 403

    def test_one_tier_has_the_same_shape(self, client_as):
        response = client_as("finance").get(level_url(tier("member")))

        assert response.status_code == 200
        assert set(response.json()["data"]) == LEVEL_KEYS
        assert response.json()["data"]["code"] == "member"

    def test_an_unknown_tier_is_404(self, client_as):
        response = client_as("finance").get(f"{LEVELS}/999999")

        assert response.status_code == 404
        assert response.json()["success"] is False


NEW_TIER = {
    "code": "gold",
    "name": "金卡",
    "nameEn": "Gold",
    "sortOrder": 10,
    "upgradeCondition": {"amount": "8000.50", "points": 2000, "match": "all", "windowDays": 180},
    "retention": {"amount": 6000, "graceDays": 15, "downgradeTo": "vip"},
}


class TestWrite:
    def test_a_manager_creates_a_tier(self, client_as):
        response = client_as("manager").post(LEVELS, NEW_TIER, format="json")

        assert response.status_code == 201
        data = response.json()["data"]
        assert data["name"] == "Gold"
        assert data["upgradeCondition"] == {
            "amount": 8000.5,
            "orders": None,
            "points": 2000,
            "match": "all",
            "windowDays": 180,
        }
        assert data["retention"] == {
            "amount": 6000,
            "orders": None,
            "graceDays": 15,
            "downgradeTo": "vip",
        }
        gold = tier("gold")
        assert (gold.name, gold.name_en, gold.sort_order) == ("金卡", "Gold", 10)
        assert gold.downgrade_to == tier("vip")
        assert AuditEvent.objects.filter(
            action="create", object_type="membership.membershiplevel", object_id=str(gold.pk)
        ).exists()

    @pytest.mark.parametrize("role", ["marketing", "customer_service", "finance", "operations"])
    def test_other_roles_cannot_create_change_or_delete(self, client_as, role):
        client = client_as(role)
        vip = tier("vip")

        assert client.post(LEVELS, NEW_TIER, format="json").status_code == 403
        assert client.patch(level_url(vip), {"name": "X"}, format="json").status_code == 403
        assert client.delete(level_url(vip)).status_code == 403
        assert tier("vip").name == "VIP"

    def test_a_downgrade_target_must_rank_below_the_tier(self, client_as):
        body = {"retention": {"downgradeTo": "svip"}}

        response = client_as("manager").patch(level_url(tier("vip")), body, format="json")

        assert response.status_code == 400
        assert "lower tier" in response.json()["error"]["message"]
        assert tier("vip").downgrade_to is None

    def test_errors_name_the_body_fields_nested_ones_included(self, client_as):
        body = {
            **NEW_TIER,
            "code": "Gold!",
            "sortOrder": 40000,
            "retention": {"graceDays": 3_000_000_000, "downgradeTo": "nope"},
        }

        response = client_as("manager").post(LEVELS, body, format="json")

        assert response.status_code == 400
        fields = fields_of(response)
        assert set(fields) == {"retention"}
        assert fields["retention"] == {"downgradeTo": ["No tier with this code."]}

        body["retention"] = {"graceDays": 3_000_000_000}
        response = client_as("manager").post(LEVELS, body, format="json")

        assert response.status_code == 400
        fields = fields_of(response)
        # The model's validation, named as the body names its fields.
        assert set(fields) == {"code", "sortOrder", "retention"}
        assert fields["code"] == ["Use lowercase letters, digits and _."]
        assert set(fields["retention"]) == {"graceDays"}
        assert not MembershipLevel.objects.filter(name="金卡").exists()

    def test_a_negative_amount_is_refused_naming_its_field(self, client_as):
        body = {**NEW_TIER, "upgradeCondition": {"amount": -1}}

        response = client_as("manager").post(LEVELS, body, format="json")

        assert response.status_code == 400
        assert set(fields_of(response)["upgradeCondition"]) == {"amount"}

    @pytest.mark.parametrize(("field", "value"), [("code", "vip"), ("sortOrder", 2)])
    def test_a_taken_code_or_rank_is_refused(self, client_as, field, value):
        response = client_as("manager").post(LEVELS, {**NEW_TIER, field: value}, format="json")

        assert response.status_code == 400
        assert set(fields_of(response)) == {field}

    def test_patch_changes_only_what_it_sends(self, client_as):
        vip = tier("vip")

        response = client_as("manager").patch(
            level_url(vip), {"upgradeCondition": {"orders": 40}}, format="json"
        )

        assert response.status_code == 200
        assert response.json()["data"]["upgradeCondition"]["orders"] == 40
        vip.refresh_from_db()
        assert (vip.min_orders, vip.min_spent, vip.name, vip.grace_days) == (40, 5000, "VIP", 30)

    def test_put_needs_code_name_and_rank(self, client_as):
        response = client_as("manager").put(
            level_url(tier("vip")), {"nameEn": "Very"}, format="json"
        )

        assert response.status_code == 400
        assert set(fields_of(response)) == {"code", "name", "sortOrder"}

    def test_put_replaces_the_settings_it_is_given(self, client_as):
        vip = tier("vip")
        body = {"code": "vip", "name": "贵宾", "sortOrder": 2, "retention": {"graceDays": 45}}

        response = client_as("manager").put(level_url(vip), body, format="json")

        assert response.status_code == 200
        vip.refresh_from_db()
        assert (vip.name, vip.grace_days, vip.min_spent) == ("贵宾", 45, 5000)

    def test_the_code_of_a_tier_customers_hold_cannot_change(self, client_as, make_customer):
        make_customer()  # in the base tier

        response = client_as("manager").patch(
            level_url(tier("regular")), {"code": "basic"}, format="json"
        )

        assert response.status_code == 409
        assert response.json()["error"]["code"] == "tier_in_use"
        assert "code" in fields_of(response)
        assert MembershipLevel.objects.filter(code="regular").exists()

    def test_deleting_a_tier_in_use_is_refused_with_the_service_message(
        self, client_as, make_customer
    ):
        customer = make_customer()
        change_level(customer_id=customer.pk, level_code="vip", reason="test", actor=None)

        response = client_as("manager").delete(level_url(tier("vip")))

        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "tier_in_use"
        assert error["message"] == (
            "1 customers and 0 active memberships are in this tier; move them to another tier "
            "before deleting it."
        )
        assert MembershipLevel.objects.filter(code="vip").exists()

    def test_a_tier_with_past_memberships_is_kept_for_their_records(self, client_as, make_customer):
        gold = MembershipLevel.objects.create(code="gold", name="金卡", sort_order=9)
        customer = make_customer()
        enroll(customer_id=customer.pk, level=gold, duration_days=1)
        expire_memberships(today=timezone.localdate() + timedelta(days=1))
        change_level(customer_id=customer.pk, level_code="regular", reason="test", actor=None)

        response = client_as("manager").delete(level_url(gold))

        assert response.status_code == 409
        assert response.json()["error"]["code"] == "tier_in_use"
        assert MembershipLevel.objects.filter(code="gold").exists()
        assert not AuditEvent.objects.filter(action="delete").exists()

    def test_a_tier_nobody_holds_is_deleted(self, client_as):
        response = client_as("manager").delete(level_url(tier("svip")))

        assert response.status_code == 204
        assert not MembershipLevel.objects.filter(code="svip").exists()
        assert AuditEvent.objects.filter(action="delete", object_type="membership.membershiplevel")

    def test_deleting_an_unknown_tier_is_404(self, client_as):
        assert client_as("manager").delete(f"{LEVELS}/999999").status_code == 404


LEVEL_BENEFIT_KEYS = BENEFIT_KEYS | {"isActive", "sortOrder"}


class TestBenefits:
    def test_a_tiers_benefits_include_inactive_ones_in_order(
        self, client_as, django_assert_max_num_queries
    ):
        member = tier("member")
        Benefit.objects.create(
            level=member,
            kind="gift",
            description="停",
            description_en="Off",
            is_active=False,
            sort_order=9,
        )
        client = client_as("customer_service")
        client.get(benefits_url(member))

        # The tier, the count and the page, inside the request's savepoint.
        with django_assert_max_num_queries(5):
            response = client.get(benefits_url(member))

        assert response.status_code == 200
        items = response.json()["data"]["items"]
        assert [item["description"] for item in items] == ["1.2× points", "5% off dishes", "Off"]
        assert set(items[0]) == LEVEL_BENEFIT_KEYS
        assert items[0]["type"] == "points_multiplier"
        assert items[0]["value"] == 1.2
        assert items[0]["exclusiveGroup"] == "points"
        assert items[2]["isActive"] is False
        assert response.json()["data"]["pagination"]["total"] == 3

    def test_a_manager_adds_a_benefit(self, client_as):
        member = tier("member")
        body = {
            "type": "discount",
            "value": "12",
            "description": "88折",
            "descriptionEn": "12% off",
            "exclusiveGroup": "discount",
            "validFrom": "2026-01-01",
            "validUntil": "2026-12-31",
        }

        response = client_as("manager").post(benefits_url(member), body, format="json")

        assert response.status_code == 201
        data = response.json()["data"]
        assert data["description"] == "12% off"
        assert (data["validFrom"], data["validUntil"], data["isActive"]) == (
            "2026-01-01",
            "2026-12-31",
            True,
        )
        benefit = Benefit.objects.get(pk=data["id"])
        assert (benefit.level, benefit.description, benefit.valid_until) == (
            member,
            "88折",
            date(2026, 12, 31),
        )
        assert AuditEvent.objects.filter(action="create", object_type="membership.benefit")

    def test_a_manager_adds_an_amount_off(self, client_as):
        body = {
            "type": "amount_off",
            "value": "20",
            "description": "立减20元",
            "exclusiveGroup": "d",
        }

        response = client_as("manager").post(benefits_url(tier("vip")), body, format="json")

        assert response.status_code == 201
        assert response.json()["data"]["type"] == "amount_off"
        benefit = Benefit.objects.get(pk=response.json()["data"]["id"])
        assert (benefit.kind, benefit.value) == ("amount_off", Decimal("20.00"))

    def test_a_discount_above_100_percent_is_refused_naming_value(self, client_as):
        body = {"type": "discount", "value": "120", "description": "白送"}

        response = client_as("manager").post(benefits_url(tier("vip")), body, format="json")

        assert response.status_code == 400
        assert fields_of(response) == {"value": ["A discount is at most 100 percent."]}

    def test_a_benefit_ending_before_it_starts_is_refused_naming_valid_until(self, client_as):
        body = {
            "type": "gift",
            "description": "礼",
            "validFrom": "2026-05-02",
            "validUntil": "2026-05-01",
        }

        response = client_as("manager").post(benefits_url(tier("vip")), body, format="json")

        assert response.status_code == 400
        assert set(fields_of(response)) == {"validUntil"}

    def test_patch_deactivates_a_benefit(self, client_as):
        vip = tier("vip")
        benefit = vip.benefits.get(kind="birthday")

        response = client_as("manager").patch(
            benefits_url(vip, benefit), {"isActive": False}, format="json"
        )

        assert response.status_code == 200
        benefit.refresh_from_db()
        assert benefit.is_active is False
        assert benefit.description == "生日赠送长寿面"

    def test_put_needs_type_and_description(self, client_as):
        vip = tier("vip")

        response = client_as("manager").put(
            benefits_url(vip, vip.benefits.first()), {"value": 3}, format="json"
        )

        assert response.status_code == 400
        assert set(fields_of(response)) == {"type", "description"}

    def test_a_benefit_is_reached_only_through_its_own_tier(self, client_as):
        benefit = tier("vip").benefits.first()

        response = client_as("manager").patch(
            benefits_url(tier("svip"), benefit), {"isActive": False}, format="json"
        )

        assert response.status_code == 404

    def test_a_used_benefit_cannot_be_deleted(self, client_as, make_customer):
        vip = tier("vip")
        benefit = vip.benefits.get(kind="free_delivery")
        BenefitUsage.objects.create(benefit=benefit, customer=make_customer())

        response = client_as("manager").delete(benefits_url(vip, benefit))

        assert response.status_code == 409
        assert response.json()["error"]["code"] == "benefit_in_use"
        assert "deactivate it" in response.json()["error"]["message"]
        assert Benefit.objects.filter(pk=benefit.pk).exists()

    def test_an_unused_benefit_is_deleted(self, client_as):
        vip = tier("vip")
        benefit = vip.benefits.get(kind="free_delivery")

        response = client_as("manager").delete(benefits_url(vip, benefit))

        assert response.status_code == 204
        assert not Benefit.objects.filter(pk=benefit.pk).exists()

    @pytest.mark.parametrize("role", ["marketing", "customer_service", "finance", "operations"])
    def test_only_managers_edit_benefits(self, client_as, role):
        vip = tier("vip")
        benefit = vip.benefits.first()
        client = client_as(role)
        body = {"type": "gift", "description": "礼"}

        assert client.post(benefits_url(vip), body, format="json").status_code == 403
        assert client.patch(benefits_url(vip, benefit), body, format="json").status_code == 403
        assert client.delete(benefits_url(vip, benefit)).status_code == 403
