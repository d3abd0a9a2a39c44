"""The membership API (spec 2.2.2, 2.2.3, 4.2): enrolment one by one and in batches, the
membership list and cancellation, tier changes by hand and their history."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import AuditEvent
from customers.models import Customer
from membership.models import LevelChange, Membership, MembershipLevel
from membership.services.enrollment import enroll
from membership.services.levels import change_level

pytestmark = pytest.mark.django_db

ENROLL = "/api/v1/membership/enroll"
BATCH = "/api/v1/membership/enroll/batch"
MEMBERSHIPS = "/api/v1/membership/memberships"
LEVEL_CHANGE = "/api/v1/membership/level-change"
LEVEL_CHANGES = "/api/v1/membership/level-changes"


def tier(code):
    return MembershipLevel.objects.get(code=code)


def level_of(customer):
    return Customer.objects.values_list("level", flat=True).get(pk=customer.pk)


def fields_of(response):
    return response.json()["error"]["fields"]


def member(customer, code="member", days=30, actor=None):
    return enroll(customer_id=customer.pk, level=tier(code), duration_days=days, actor=actor)


class TestEnroll:
    def test_enrolment_has_the_spec_shape_and_raises_the_tier(self, client_as, make_customer):
        customer = make_customer()
        body = {
            "customerId": str(customer.pk),
            "levelId": str(tier("vip").pk),
            "duration": 365,
            "method": "purchase",
            "source": "spring-campaign",
        }

        response = client_as("marketing").post(ENROLL, body, format="json")

        assert response.status_code == 201
        data = response.json()["data"]
        assert set(data) == {"membershipId", "startDate", "endDate"}
        today = timezone.localdate()
        assert data["startDate"] == today.isoformat()
        assert data["endDate"] == (today + timedelta(days=365)).isoformat()
        membership = Membership.objects.get(pk=data["membershipId"])
        assert (membership.method, membership.source, membership.status) == (
            "purchase",
            "spring-campaign",
            "active",
        )
        assert level_of(customer) == "vip"

    def test_method_defaults_to_system(self, client_as, make_customer):
        customer = make_customer()
        body = {"customerId": customer.pk, "levelId": tier("member").pk, "duration": 30}

        response = client_as("operations").post(ENROLL, body, format="json")

        assert response.status_code == 201
        assert Membership.objects.get(customer=customer).method == "system"

    def test_a_member_is_refused_with_409_naming_the_customer(self, client_as, make_customer):
        customer = make_customer()
        member(customer)
        body = {"customerId": customer.pk, "levelId": tier("vip").pk, "duration": 30}

        response = client_as("marketing").post(ENROLL, body, format="json")

        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "already_member"
        assert "already has an active membership" in error["message"]
        assert set(error["fields"]) == {"customerId"}
        assert Membership.objects.filter(customer=customer).count() == 1

    def test_an_unknown_customer_or_tier_is_404_naming_the_field(self, client_as, make_customer):
        client = client_as("marketing")
        body = {"customerId": 999999, "levelId": tier("vip").pk, "duration": 30}

        response = client.post(ENROLL, body, format="json")

        assert response.status_code == 404
        assert fields_of(response) == {"customerId": ["No customer with this id."]}

        body = {"customerId": make_customer().pk, "levelId": 999999, "duration": 30}
        response = client.post(ENROLL, body, format="json")

        assert response.status_code == 404
        assert fields_of(response) == {"levelId": ["No tier with this id."]}

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"duration": 0}, "duration"),
            ({"method": "bribe"}, "method"),
            ({"levelId": "x"}, "levelId"),
        ],
    )
    def test_invalid_fields_are_400_naming_them(self, client_as, make_customer, change, field):
        body = {"customerId": make_customer().pk, "levelId": tier("vip").pk, "duration": 30}

        response = client_as("marketing").post(ENROLL, {**body, **change}, format="json")

        assert response.status_code == 400
        assert set(fields_of(response)) == {field}
        assert not Membership.objects.exists()

    def test_finance_may_not_enrol(self, client_as, make_customer):
        body = {"customerId": make_customer().pk, "levelId": tier("vip").pk, "duration": 30}

        assert client_as("finance").post(ENROLL, body, format="json").status_code == 403
        assert not Membership.objects.exists()


class TestBatchEnroll:
    def test_enrols_each_and_says_who_was_skipped_and_why(self, client_as, make_customer):
        fresh, other, already = make_customer(), make_customer(), make_customer()
        member(already)
        body = {
            "customerIds": [fresh.pk, already.pk, 999999, other.pk, fresh.pk],
            "levelId": tier("vip").pk,
            "duration": 90,
            "method": "gift",
        }

        response = client_as("marketing").post(BATCH, body, format="json")

        assert response.status_code == 200
        data = response.json()["data"]
        assert set(data) == {"enrolled", "memberships", "skipped"}
        assert data["enrolled"] == 2
        created = Membership.objects.filter(customer__in=[fresh, other]).order_by("customer_id")
        assert data["memberships"] == [str(m.pk) for m in created]
        assert [(s["customerId"], s["code"]) for s in data["skipped"]] == [
            (str(already.pk), "already_member"),
            ("999999", "not_found"),
        ]
        assert data["skipped"][1]["message"] == "No customer with this id."
        assert {level_of(fresh), level_of(other)} == {"vip"}

    def test_a_filter_of_the_customer_list_selects_the_customers(self, client_as, make_customer):
        from_app = [make_customer(source="app"), make_customer(source="app")]
        walk_in = make_customer(source="walk_in")
        body = {"filter": {"source": "app"}, "levelId": tier("member").pk, "duration": 30}

        response = client_as("marketing").post(BATCH, body, format="json")

        assert response.status_code == 200
        assert response.json()["data"]["enrolled"] == 2
        enrolled = set(Membership.objects.values_list("customer_id", flat=True))
        assert enrolled == {customer.pk for customer in from_app}
        assert walk_in.pk not in enrolled

    @pytest.mark.parametrize(
        ("selection", "field"),
        [
            ({"filter": {}}, "filter"),
            ({"filter": {"search": ""}}, "filter"),
            ({"filter": {"colour": "red"}}, "filter"),
            ({"filter": {"source": "moon"}}, "filter"),
            ({"customerIds": []}, "customerIds"),
            ({}, "nonField"),
            ({"customerIds": [1], "filter": {"source": "app"}}, "nonField"),
        ],
    )
    def test_the_selection_must_be_ids_or_a_real_filter(
        self, client_as, make_customer, selection, field
    ):
        make_customer(source="app")
        body = {**selection, "levelId": tier("member").pk, "duration": 30}

        response = client_as("marketing").post(BATCH, body, format="json")

        assert response.status_code == 400
        assert set(fields_of(response)) == {field}
        assert not Membership.objects.exists()

    def test_an_unknown_tier_is_404(self, client_as, make_customer):
        body = {"customerIds": [make_customer().pk], "levelId": 999999, "duration": 30}

        response = client_as("marketing").post(BATCH, body, format="json")

        assert response.status_code == 404
        assert set(fields_of(response)) == {"levelId"}

    def test_finance_may_not_enrol_in_batches(self, client_as, make_customer):
        body = {"customerIds": [make_customer().pk], "levelId": tier("vip").pk, "duration": 30}

        assert client_as("finance").post(BATCH, body, format="json").status_code == 403


MEMBERSHIP_KEYS = {
    "id",
    "customerId",
    "levelId",
    "level",
    "startDate",
    "endDate",
    "status",
    "method",
    "source",
    "actor",
    "createdAt",
}


class TestMemberships:
    def test_lists_one_customers_memberships(self, client_as, make_customer):
        customer, other = make_customer(), make_customer()
        first = member(customer)
        first.status = "expired"
        first.save()
        second = member(customer, "vip")
        member(other)

        response = client_as("finance").get(MEMBERSHIPS, {"customerId": customer.pk})

        assert response.status_code == 200
        items = response.json()["data"]["items"]
        assert [item["id"] for item in items] == [str(second.pk), str(first.pk)]
        assert set(items[0]) == MEMBERSHIP_KEYS
        assert (items[0]["customerId"], items[0]["level"], items[0]["status"]) == (
            str(customer.pk),
            "vip",
            "active",
        )
        assert response.json()["data"]["pagination"]["total"] == 2

    def test_filters_by_status_and_pages(self, client_as, make_customer):
        for _ in range(3):
            member(make_customer())
        cancelled = member(make_customer())
        cancelled.status = "cancelled"
        cancelled.save()
        client = client_as("finance")

        active = client.get(MEMBERSHIPS, {"status": "active", "limit": 2}).json()["data"]

        assert len(active["items"]) == 2
        assert active["pagination"]["total"] == 3
        assert {item["status"] for item in active["items"]} == {"active"}
        assert client.get(MEMBERSHIPS, {"status": "lost"}).status_code == 400
        assert client.get(MEMBERSHIPS, {"customerId": "x"}).status_code == 400

    def test_a_page_costs_the_same_queries_however_many_rows(
        self, client_as, make_user, make_customer, django_assert_max_num_queries
    ):
        client = client_as("finance")
        client.get(MEMBERSHIPS)
        for number, code in enumerate(["member", "vip", "svip"] * 4):
            member(make_customer(), code, actor=make_user(f"enroller-{number}"))

        # The count and the page (tiers and actors joined), inside the request's savepoint.
        with django_assert_max_num_queries(4):
            response = client.get(MEMBERSHIPS)

        assert len(response.json()["data"]["items"]) == 12

    def test_cancel_ends_an_active_membership(self, client_as, make_customer):
        customer = make_customer()
        membership = member(customer, "vip")
        url = f"{MEMBERSHIPS}/{membership.pk}/cancel"

        response = client_as("manager").post(url, {"reason": "refund"}, format="json")

        assert response.status_code == 200
        data = response.json()["data"]
        assert set(data) == MEMBERSHIP_KEYS
        assert data["status"] == "cancelled"
        membership.refresh_from_db()
        assert membership.status == "cancelled"

        again = client_as("manager").post(url, {"reason": "refund"}, format="json")

        assert again.status_code == 400
        assert again.json()["error"]["message"] == "Only an active membership can be cancelled."

    def test_cancel_needs_a_reason_the_permission_and_a_membership(self, client_as, make_customer):
        membership = member(make_customer())
        url = f"{MEMBERSHIPS}/{membership.pk}/cancel"

        assert set(fields_of(client_as("manager").post(url, {}, format="json"))) == {"reason"}
        assert client_as("marketing").post(url, {"reason": "x"}, format="json").status_code == 403
        missing = client_as("manager").post(f"{MEMBERSHIPS}/999999/cancel", {"reason": "x"})
        assert missing.status_code == 404
        membership.refresh_from_db()
        assert membership.status == "active"


class TestLevelChange:
    def test_a_manager_changes_a_tier_by_hand(self, client_as, make_customer):
        customer = make_customer()
        client = client_as("manager")
        body = {
            "customerId": str(customer.pk),
            "levelId": str(tier("vip").pk),
            "reason": "VIP 客户",
        }

        response = client.post(LEVEL_CHANGE, body, format="json")

        assert response.status_code == 201
        data = response.json()["data"]
        assert set(data) == {
            "id",
            "customerId",
            "from",
            "to",
            "kind",
            "reason",
            "actor",
            "notificationStatus",
            "createdAt",
        }
        assert (data["from"], data["to"], data["kind"], data["reason"]) == (
            "regular",
            "vip",
            "manual",
            "VIP 客户",
        )
        assert data["notificationStatus"] == "pending"
        assert data["actor"].startswith("manager-")
        assert level_of(customer) == "vip"
        assert AuditEvent.objects.filter(
            action="level_change", object_id=str(customer.pk), actor_username=data["actor"]
        ).exists()

    @pytest.mark.parametrize("role", ["marketing", "customer_service", "finance", "operations"])
    def test_other_roles_may_not_change_a_tier(self, client_as, make_customer, role):
        customer = make_customer()
        body = {"customerId": customer.pk, "levelId": tier("vip").pk, "reason": "please"}

        response = client_as(role).post(LEVEL_CHANGE, body, format="json")

        assert response.status_code == 403
        assert level_of(customer) == "regular"
        assert not LevelChange.objects.exists()

    def test_the_same_tier_is_refused_naming_level_id(self, client_as, make_customer):
        customer = make_customer()
        body = {"customerId": customer.pk, "levelId": tier("regular").pk, "reason": "again"}

        response = client_as("manager").post(LEVEL_CHANGE, body, format="json")

        assert response.status_code == 400
        assert set(fields_of(response)) == {"levelId"}
        assert response.json()["error"]["message"] == "The customer is already in this tier."

    @pytest.mark.parametrize(
        ("change", "status", "field"),
        [
            ({"reason": ""}, 400, "reason"),
            ({"customerId": 999999}, 404, "customerId"),
            ({"levelId": 999999}, 404, "levelId"),
        ],
    )
    def test_errors_name_the_field(self, client_as, make_customer, change, status, field):
        customer = make_customer()
        body = {"customerId": customer.pk, "levelId": tier("vip").pk, "reason": "why", **change}

        response = client_as("manager").post(LEVEL_CHANGE, body, format="json")

        assert response.status_code == status
        assert set(fields_of(response)) == {field}
        assert level_of(customer) == "regular"

    def test_the_history_lists_one_customers_changes_newest_first(
        self, client_as, make_user, make_customer, django_assert_max_num_queries
    ):
        customer, other = make_customer(), make_customer()
        for code in ["member", "vip", "svip"]:
            actor = make_user(f"changer-{code}")
            change_level(customer_id=customer.pk, level_code=code, reason=code, actor=actor)
        change_level(customer_id=other.pk, level_code="vip", reason="other", actor=None)
        client = client_as("customer_service")
        client.get(LEVEL_CHANGES)

        with django_assert_max_num_queries(4):
            response = client.get(LEVEL_CHANGES, {"customerId": customer.pk})

        assert response.status_code == 200
        items = response.json()["data"]["items"]
        assert [(item["from"], item["to"], item["actor"]) for item in items] == [
            ("vip", "svip", "changer-svip"),
            ("member", "vip", "changer-vip"),
            ("regular", "member", "changer-member"),
        ]
        assert client.get(LEVEL_CHANGES).json()["data"]["pagination"]["total"] == 4
