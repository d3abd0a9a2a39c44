"""The customer API of spec 4.1: shapes, validation, conflicts, masking, history, batch, erase."""

import pytest
from django.urls import reverse

from crm.models import AuditEvent
from customers.models import Customer
from customers.services.communications import communication_record

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/customers"


def detail_url(customer):
    return f"/api/v1/customers/{customer.pk}"


def test_create_returns_generated_number_in_envelope(api_client, manager):
    response = api_client(manager).post(
        LIST_URL,
        {
            "name": "张三",
            "phone": "138 0013 8000",
            "email": "ZhangSan@Example.com",
            "gender": "male",
            "birthday": "1990-01-01",
            "tags": ["美食爱好者"],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["success"] is True
    assert set(body["data"]) == {"id", "customerNo", "createdAt"}
    customer = Customer.objects.get(pk=body["data"]["id"])
    assert body["data"]["customerNo"] == customer.customer_no
    assert customer.customer_no.startswith("C") and customer.customer_no[1:].isdigit()
    assert customer.phone == "+8613800138000"
    assert customer.email == "zhangsan@example.com"
    assert [tag.name for tag in customer.tags.all()] == ["美食爱好者"]


def test_phone_and_email_are_stored_encrypted(manager, make_customer):
    from django.db import connection

    customer = make_customer(phone="13800138000", email="a@example.com")
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, email FROM customers_customer WHERE id = %s", [customer.pk])
        phone, email = cursor.fetchone()
    assert "13800138000" not in phone and "a@example.com" not in email
    assert Customer.objects.get(pk=customer.pk).phone == "+8613800138000"


def test_duplicate_phone_is_a_409_naming_the_field_not_the_other_customer(
    api_client, manager, make_customer
):
    make_customer(name="李四", phone="13800138000")
    response = api_client(manager).post(
        LIST_URL, {"name": "王五", "phone": "+86 138-0013-8000"}, format="json"
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "duplicate_phone"
    assert "phone" in error["fields"]
    assert "李四" not in response.content.decode()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "张三", "phone": "12345"}, "phone"),
        ({"name": "张三", "phone": "13800138000", "email": "not-an-email"}, "email"),
        ({"name": "张三", "phone": "13800138000", "gender": "robot"}, "gender"),
        ({"phone": "13800138000"}, "name"),
    ],
)
def test_invalid_fields_are_400_with_the_field(api_client, manager, payload, field):
    response = api_client(manager).post(LIST_URL, payload, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    assert Customer.objects.count() == 0


def test_malformed_json_is_400(api_client, manager):
    response = api_client(manager).generic(
        "POST", LIST_URL, "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["success"] is False


def test_custom_customer_number_is_kept_and_generated_pattern_refused(api_client, manager):
    client = api_client(manager)
    ok = client.post(
        LIST_URL, {"name": "张三", "phone": "13800138000", "customerNo": "VIP-001"}, format="json"
    )
    assert ok.status_code == 201
    assert ok.json()["data"]["customerNo"] == "VIP-001"
    taken = client.post(
        LIST_URL, {"name": "李四", "phone": "13800138001", "customerNo": "VIP-001"}, format="json"
    )
    assert taken.status_code == 409
    assert "customerNo" in taken.json()["error"]["fields"]
    reserved = client.post(
        LIST_URL, {"name": "李四", "phone": "13800138001", "customerNo": "C00042"}, format="json"
    )
    assert reserved.status_code == 400
    assert "customerNo" in reserved.json()["error"]["fields"]


def test_list_shape_and_exact_total(api_client, manager, make_customer):
    for index in range(3):
        make_customer(name=f"客户{index}")
    response = api_client(manager).get(LIST_URL, {"limit": 2})
    data = response.json()["data"]
    assert data["pagination"] == {
        "page": 1,
        "limit": 2,
        "total": 3,
        "totalExact": True,
        "totalPages": 2,
        "nextCursor": data["pagination"]["nextCursor"],
    }
    assert data["pagination"]["nextCursor"]
    item = data["items"][0]
    for key in (
        "id",
        "name",
        "phone",
        "email",
        "level",
        "points",
        "totalSpent",
        "orderCount",
        "lastOrderDate",
        "createdAt",
    ):
        assert key in item
    assert item["name"] == "客户2"  # newest first


def test_total_past_the_exact_limit_is_an_estimate_and_says_so(
    api_client, manager, make_customer, monkeypatch
):
    monkeypatch.setattr("crm.api.pagination.EXACT_TOTAL_LIMIT", 2)
    for index in range(5):
        make_customer(name=f"客户{index}")
    client = api_client(manager)
    over = client.get(LIST_URL, {"limit": 2}).json()["data"]["pagination"]
    # Never below what was counted: more than the limit are known to match.
    assert over["totalExact"] is False
    assert over["total"] >= 3
    assert over["totalPages"] == -(-over["total"] // 2)
    under = client.get(LIST_URL, {"search": "客户1"}).json()["data"]["pagination"]
    assert (under["total"], under["totalExact"]) == (1, True)


def test_page_past_the_end_is_empty_with_right_pagination(api_client, manager, make_customer):
    make_customer()
    response = api_client(manager).get(LIST_URL, {"page": 9})
    data = response.json()["data"]
    assert data["items"] == []
    assert data["pagination"]["total"] == 1
    assert data["pagination"]["totalPages"] == 1


def test_total_of_a_later_last_page_counts_the_pages_before(api_client, manager, make_customer):
    for index in range(5):
        make_customer(name=f"客户{index}")
    pagination = (
        api_client(manager).get(LIST_URL, {"limit": 2, "page": 3}).json()["data"]["pagination"]
    )
    assert (pagination["total"], pagination["totalPages"]) == (5, 3)


def test_cursor_walks_every_customer_once(api_client, manager, make_customer):
    created = {make_customer(name=f"顾客{i}").pk for i in range(7)}
    client, seen, cursor = api_client(manager), [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        data = client.get(LIST_URL, params).json()["data"]
        seen += [int(item["id"]) for item in data["items"]]
        cursor = data["pagination"]["nextCursor"]
        if not cursor:
            break
    assert seen == sorted(created, reverse=True)


def test_bad_cursor_and_unknown_filter_values_are_400(api_client, manager):
    client = api_client(manager)
    assert client.get(LIST_URL, {"cursor": "garbage"}).status_code == 400
    response = client.get(LIST_URL, {"level": "gold"})
    assert response.status_code == 400
    assert "level" in response.json()["error"]["fields"]
    assert client.get(LIST_URL, {"ordering": "name"}).status_code == 400
    assert client.get(LIST_URL, {"limit": 1000}).status_code == 400


def test_filters_combine_with_search(api_client, manager, make_customer):
    from customers.services import customers_batch_update

    vip = make_customer(name="王芳", tags=["商务宴请"])
    make_customer(name="王芳")
    make_customer(name="李娜", tags=["商务宴请"])
    Customer.objects.filter(pk=vip.pk).update(level="vip")
    customers_batch_update(
        actor=manager, customers=Customer.objects.filter(pk=vip.pk), set_fields={"source": "app"}
    )
    response = api_client(manager).get(
        LIST_URL, {"search": "王芳", "level": "vip,svip", "tag": "商务宴请", "source": "app"}
    )
    items = response.json()["data"]["items"]
    assert [item["id"] for item in items] == [str(vip.pk)]


def test_registration_date_range(api_client, manager, make_customer):
    import datetime

    early = make_customer(register_date=datetime.date(2024, 1, 5))
    make_customer(register_date=datetime.date(2024, 3, 1))
    response = api_client(manager).get(
        LIST_URL, {"startDate": "2024-01-01", "endDate": "2024-01-31"}
    )
    assert [item["id"] for item in response.json()["data"]["items"]] == [str(early.pk)]


def test_ordering_by_total_spent(api_client, manager, make_customer):
    low, high = make_customer(), make_customer()
    Customer.objects.filter(pk=low.pk).update(total_spent=10)
    Customer.objects.filter(pk=high.pk).update(total_spent=500)
    items = api_client(manager).get(LIST_URL, {"ordering": "-totalSpent"}).json()["data"]["items"]
    assert [item["id"] for item in items] == [str(high.pk), str(low.pk)]


def test_detail_has_spec_shape(api_client, manager, make_customer):
    customer = make_customer(
        name="张三",
        phone="13800138000",
        email="zs@example.com",
        tags=["美食爱好者"],
        addresses=[{"province": "北京市", "city": "北京市", "detail": "建国路1号"}],
        note="喜欢靠窗的位子",
    )
    data = api_client(manager).get(detail_url(customer)).json()["data"]
    assert data["id"] == str(customer.pk)
    assert data["profile"]["name"] == "张三"
    assert set(data["profile"]) >= {"name", "phone", "email", "gender", "birthday"}
    assert set(data["stats"]) >= {"totalSpent", "orderCount", "avgOrderValue", "points"}
    assert data["tags"] == ["美食爱好者"]
    assert data["orders"] == [] and data["communications"] == []
    assert data["addresses"][0]["isDefault"] is True
    assert data["notes"][0]["body"] == "喜欢靠窗的位子"


def test_unknown_customer_is_404(api_client, manager):
    response = api_client(manager).get("/api/v1/customers/999999")
    assert response.status_code == 404
    assert response.json()["success"] is False


class TestMasking:
    def test_marketing_sees_masked_phone_and_no_audit(self, api_client, marketer, make_customer):
        customer = make_customer(phone="13800138000", email="zhangsan@example.com")
        profile = api_client(marketer).get(detail_url(customer)).json()["data"]["profile"]
        assert profile["phone"] == "138****8000"
        assert profile["email"] == "z***n@example.com"
        assert not AuditEvent.objects.filter(action="reveal_pii").exists()

    def test_manager_sees_phone_and_the_reveal_is_audited(self, api_client, manager, make_customer):
        customer = make_customer(phone="13800138000")
        profile = api_client(manager).get(detail_url(customer)).json()["data"]["profile"]
        assert profile["phone"] == "13800138000"
        event = AuditEvent.objects.get(action="reveal_pii")
        assert event.actor == manager and event.object_id == str(customer.pk)

    def test_list_masks_per_role(self, api_client, marketer, make_user, make_customer):
        make_customer(phone="13800138000")
        service = make_user("cs", roles=["customer_service"])
        masked = api_client(marketer).get(LIST_URL).json()["data"]["items"][0]["phone"]
        shown = api_client(service).get(LIST_URL).json()["data"]["items"][0]["phone"]
        assert (masked, shown) == ("138****8000", "13800138000")


class TestPermissions:
    def test_anonymous_is_401(self, api_client):
        assert api_client().get(LIST_URL).status_code == 401

    def test_finance_cannot_create(self, api_client, make_user):
        finance = make_user("fin", roles=["finance"])
        response = api_client(finance).post(
            LIST_URL, {"name": "张三", "phone": "13800138000"}, format="json"
        )
        assert response.status_code == 403

    def test_user_without_role_cannot_list(self, api_client, make_user):
        assert api_client(make_user("nobody")).get(LIST_URL).status_code == 403


class TestUpdate:
    def test_put_updates_and_records_history_with_reason(self, api_client, manager, make_customer):
        customer = make_customer(name="张三", phone="13800138000")
        response = api_client(manager).put(
            detail_url(customer),
            {"name": "张三丰", "phone": "13800138000", "gender": "male", "reason": "客户来电更正"},
            format="json",
        )
        assert response.status_code == 200, response.json()
        assert set(response.json()["data"]) == {"id", "updatedAt"}
        latest = customer.history.order_by("-history_date").first()
        assert latest.name == "张三丰"
        assert latest.history_user == manager
        assert latest.history_change_reason == "客户来电更正"

    def test_phone_change_without_password_is_403_and_changes_nothing(
        self, api_client, manager, make_customer
    ):
        customer = make_customer(name="张三", phone="13800138000")
        response = api_client(manager).patch(
            detail_url(customer), {"name": "张三丰", "phone": "13900139000"}, format="json"
        )
        assert response.status_code == 403
        assert "password" in response.json()["error"]["message"]
        customer.refresh_from_db()
        assert (customer.name, customer.phone) == ("张三", "+8613800138000")

    def test_phone_change_with_wrong_password_is_403_and_audited(
        self, api_client, manager, make_customer
    ):
        customer = make_customer(phone="13800138000")
        response = api_client(manager).patch(
            detail_url(customer),
            {"phone": "13900139000", "verification": {"password": "wrong"}},
            format="json",
        )
        assert response.status_code == 403
        attempt = AuditEvent.objects.get(action="login_failure", object_id=str(customer.pk))
        assert attempt.actor == manager
        assert attempt.summary == {"context": "verification"}

    def test_phone_change_with_own_password_succeeds(self, api_client, manager, make_customer):
        customer = make_customer(phone="13800138000")
        response = api_client(manager).patch(
            detail_url(customer),
            {"phone": "13900139000", "verification": {"password": "pass-1234-word"}},
            format="json",
        )
        assert response.status_code == 200
        customer.refresh_from_db()
        assert customer.phone == "+8613900139000"
        assert Customer.objects.search("13900139000").get() == customer
        assert not Customer.objects.search("13800138000").exists()

    def test_history_endpoint_lists_changed_fields_masked(
        self, api_client, manager, marketer, make_customer
    ):
        customer = make_customer(name="张三", phone="13800138000")
        api_client(manager).patch(
            detail_url(customer),
            {
                "name": "张三丰",
                "phone": "13900139000",
                "verification": {"password": "pass-1234-word"},
            },
            format="json",
        )
        data = api_client(marketer).get(f"{detail_url(customer)}/history").json()["data"]
        latest, created = data["items"]
        assert created["type"] == "created"
        assert latest["actor"] == "manager"
        changes = {change["field"]: change for change in latest["changes"]}
        assert changes["name"] == {"field": "name", "old": "张三", "new": "张三丰"}
        assert changes["phone"]["new"] == "139****9000"


class TestBatchUpdate:
    URL = "/api/v1/customers/batch-update"

    def test_by_ids_sets_status_and_tags_with_history(self, api_client, manager, make_customer):
        first, second, other = make_customer(), make_customer(), make_customer()
        response = api_client(manager).post(
            self.URL,
            {"ids": [first.pk, second.pk], "set": {"status": "inactive"}, "addTags": ["沉睡客户"]},
            format="json",
        )
        assert response.status_code == 200, response.json()
        assert response.json()["data"]["updated"] == 2
        assert set(Customer.objects.filter(status="inactive").values_list("pk", flat=True)) == {
            first.pk,
            second.pk,
        }
        assert first.tags.filter(name="沉睡客户").exists()
        assert first.history.count() >= 2
        other.refresh_from_db()
        assert other.status == "active"

    def test_history_of_a_batch_edit_names_actor_reason_and_tags(
        self, api_client, manager, make_customer
    ):
        customer = make_customer(tags=["素食"])
        client = api_client(manager)
        client.post(
            self.URL,
            {
                "ids": [customer.pk],
                "set": {"source": "app"},
                "addTags": ["沉睡客户"],
                "reason": "季度整理",
            },
            format="json",
        )
        latest = client.get(f"{detail_url(customer)}/history").json()["data"]["items"][0]
        assert (latest["actor"], latest["reason"]) == ("manager", "季度整理")
        changes = {change["field"]: change for change in latest["changes"]}
        assert changes["source"]["new"] == "app"
        assert changes["tags"]["old"] == ["素食"]
        assert changes["tags"]["new"] == ["沉睡客户", "素食"]

    def test_by_filter_uses_list_parameters(self, api_client, manager, make_customer):
        wang = make_customer(name="王芳")
        make_customer(name="李娜")
        response = api_client(manager).post(
            self.URL, {"filter": {"search": "王芳"}, "set": {"source": "app"}}, format="json"
        )
        assert response.json()["data"] == {"updated": 1, "matched": 1}
        wang.refresh_from_db()
        assert wang.source == "app"

    def test_unknown_id_or_bad_value_changes_nothing(self, api_client, manager, make_customer):
        customer = make_customer()
        client = api_client(manager)
        missing = client.post(
            self.URL, {"ids": [customer.pk, 999999], "set": {"status": "inactive"}}, format="json"
        )
        bad = client.post(
            self.URL, {"ids": [customer.pk], "set": {"status": "gone"}}, format="json"
        )
        assert (missing.status_code, bad.status_code) == (400, 400)
        customer.refresh_from_db()
        assert customer.status == "active"

    def test_empty_filter_is_refused(self, api_client, manager, make_customer):
        customer = make_customer()
        response = api_client(manager).post(
            self.URL, {"filter": {}, "set": {"status": "blocked"}}, format="json"
        )
        assert response.status_code == 400
        assert "filter" in response.json()["error"]["fields"]
        customer.refresh_from_db()
        assert customer.status == "active"

    def test_needs_permission(self, api_client, make_user, make_customer):
        customer = make_customer()
        finance = make_user("fin", roles=["finance"])
        response = api_client(finance).post(
            self.URL, {"ids": [customer.pk], "set": {"status": "inactive"}}, format="json"
        )
        assert response.status_code == 403


class TestArchiveAndErase:
    def test_delete_archives_and_hides_from_list(self, api_client, manager, make_customer):
        customer = make_customer()
        client = api_client(manager)
        assert client.delete(detail_url(customer)).status_code == 204
        customer.refresh_from_db()
        assert customer.status == "archived"
        assert client.get(LIST_URL).json()["data"]["pagination"]["total"] == 0
        archived = client.get(LIST_URL, {"status": "archived"}).json()["data"]["items"]
        assert [item["id"] for item in archived] == [str(customer.pk)]

    def test_erase_anonymises_record_and_history_and_is_audited(
        self, api_client, manager, make_customer
    ):
        customer = make_customer(name="张三", phone="13800138000", email="zs@example.com")
        communication = communication_record(
            customer=customer,
            actor=manager,
            channel="phone",
            content="张三说住在人民路1号",
            result="已回访",
        )
        response = api_client(manager).post(
            f"{detail_url(customer)}/erase", {"reason": "客户要求删除个人信息"}, format="json"
        )
        assert response.status_code == 200
        communication.refresh_from_db()
        assert (communication.content, communication.result) == ("", ""), "what was said goes"
        assert communication.channel == "phone" and communication.staff == manager
        customer.refresh_from_db()
        assert customer.phone is None and customer.email is None and customer.name != "张三"
        assert not customer.history.filter(name="张三").exists()
        assert not customer.history.exclude(phone=None).exists()
        assert AuditEvent.objects.filter(action="erase", object_id=str(customer.pk)).exists()
        assert not Customer.objects.search("13800138000").exists()

    def test_erase_is_for_managers_only(self, api_client, make_user, make_customer):
        customer = make_customer()
        service = make_user("cs", roles=["customer_service"])
        response = api_client(service).post(
            f"{detail_url(customer)}/erase", {"reason": "x"}, format="json"
        )
        assert response.status_code == 403


def test_create_is_audited(api_client, manager):
    api_client(manager).post(LIST_URL, {"name": "张三", "phone": "13800138000"}, format="json")
    event = AuditEvent.objects.get(action="create")
    assert event.actor == manager and event.object_type == "customers.customer"


def test_messages_follow_the_request_language(api_client, manager, make_customer):
    make_customer(phone="13800138000")
    response = api_client(manager, language="zh-hans").post(
        LIST_URL, {"name": "王五", "phone": "13800138000"}, format="json"
    )
    assert response.status_code == 409
    assert "手机号" in response.json()["error"]["message"]


def test_reverse_names_exist():
    assert reverse("api:customer-list") == LIST_URL


class TestReviewedEdges:
    """Edges found in review: each once returned the wrong thing or a 500."""

    @pytest.mark.parametrize(
        "conditions",
        [{"search": ""}, {"ordering": "createdAt"}, {"search": None}, {"nonsense": "x"}],
    )
    def test_batch_filter_without_a_real_condition_changes_nothing(
        self, api_client, manager, make_customer, conditions
    ):
        customer = make_customer()
        response = api_client(manager).post(
            "/api/v1/customers/batch-update",
            {"filter": conditions, "set": {"source": "app"}},
            format="json",
        )
        assert response.status_code == 400
        customer.refresh_from_db()
        assert customer.source == "other"

    def test_head_and_options_work_and_wrong_methods_are_405(self, api_client, manager):
        client = api_client(manager)
        assert client.head(LIST_URL).status_code == 200
        assert client.options(LIST_URL).status_code == 200
        assert client.delete(LIST_URL).status_code == 405
        assert api_client().head(LIST_URL).status_code == 401

    def test_absurd_page_number_is_400(self, api_client, manager):
        response = api_client(manager).get(LIST_URL, {"page": "99999999999999999999"})
        assert response.status_code == 400

    def test_cursor_from_one_direction_is_refused_in_the_other(
        self, api_client, manager, make_customer
    ):
        for index in range(3):
            make_customer(name=f"客{index}")
        client = api_client(manager)
        cursor = client.get(LIST_URL, {"limit": 1}).json()["data"]["pagination"]["nextCursor"]
        response = client.get(LIST_URL, {"cursor": cursor, "ordering": "createdAt"})
        assert response.status_code == 400

    def test_archiving_by_status_needs_delete_permission(
        self, api_client, make_user, make_customer
    ):
        customer = make_customer()
        service = make_user("cs", roles=["customer_service"])
        response = api_client(service).patch(
            detail_url(customer), {"status": "archived"}, format="json"
        )
        assert response.status_code == 403
        customer.refresh_from_db()
        assert customer.status == "active"

    def test_new_tags_need_the_add_tag_permission(self, api_client, make_user, make_customer):
        customer = make_customer(tags=["美食爱好者"])
        service = make_user("cs", roles=["customer_service"])
        client = api_client(service)
        existing = client.patch(detail_url(customer), {"tags": ["美食爱好者"]}, format="json")
        invented = client.patch(detail_url(customer), {"tags": ["新标签"]}, format="json")
        assert (existing.status_code, invented.status_code) == (200, 403)

    def test_roles_without_address_or_note_permission_see_neither(
        self, api_client, make_user, make_customer
    ):
        customer = make_customer(addresses=[{"detail": "建国路1号"}], note="靠窗")
        finance = make_user("fin", roles=["finance"])
        data = api_client(finance).get(detail_url(customer)).json()["data"]
        assert data["addresses"] == [] and data["notes"] == []

    def test_reverification_locks_after_repeated_wrong_passwords(
        self, api_client, manager, make_customer, settings
    ):
        from django.core.cache import cache

        cache.clear()
        settings.LOGIN_FAILURE_LIMIT = 3
        customer = make_customer(phone="13800138000")
        client = api_client(manager)

        def change(password):
            return client.patch(
                detail_url(customer),
                {"phone": "13900139000", "verification": {"password": password}},
                format="json",
            ).status_code

        assert [change("wrong") for _ in range(3)] == [403, 403, 403]
        assert change("pass-1234-word") == 403
        cache.clear()

    def test_history_reveal_is_audited_and_tags_shown_by_name(
        self, api_client, manager, make_customer
    ):
        customer = make_customer(phone="13800138000")
        client = api_client(manager)
        client.patch(detail_url(customer), {"tags": ["素食"]}, format="json")
        AuditEvent.objects.filter(action="reveal_pii").delete()
        data = client.get(f"{detail_url(customer)}/history").json()["data"]
        tag_changes = [
            c for entry in data["items"] for c in entry["changes"] if c["field"] == "tags"
        ]
        assert ["素食"] in [change["new"] for change in tag_changes]
        assert AuditEvent.objects.filter(action="reveal_pii").count() == 1

    def test_erase_scrubs_audit_reprs_and_change_reasons(self, api_client, manager, make_customer):
        customer = make_customer(name="张三", phone="13800138000", reason="张三 13800138000")
        erased = api_client(manager).post(
            f"{detail_url(customer)}/erase", {"reason": "隐私请求"}, format="json"
        )
        assert erased.status_code == 200, erased.json()
        assert not AuditEvent.objects.filter(object_repr__contains="张三").exists()
        assert not customer.history.exclude(history_change_reason=None).exists()
        edit = api_client(manager).patch(detail_url(customer), {"name": "李四"}, format="json")
        assert edit.status_code == 400


def test_history_query_count_does_not_grow_with_entries(
    api_client, manager, make_customer, django_assert_max_num_queries
):
    customer = make_customer(tags=["素食"])
    client = api_client(manager)
    for index in range(12):
        client.patch(
            detail_url(customer), {"name": f"张{index}", "tags": [f"标签{index}"]}, format="json"
        )
    # savepoint pair, permissions, customer, count, page, older record, tag sets, reveal audit
    with django_assert_max_num_queries(10):
        response = client.get(f"{detail_url(customer)}/history", {"limit": 20})
    assert len(response.json()["data"]["items"]) == 20


def test_reverification_without_a_password_never_locks_out(
    api_client, manager, make_customer, settings
):
    """Only a wrong password counts as a failed login: forgetting to send one five times must
    not lock the user out of the admin and the API."""
    from django.core.cache import cache

    from crm.auth import lockout

    cache.clear()
    settings.LOGIN_FAILURE_LIMIT = 3
    customer = make_customer(phone="13800138000")
    client = api_client(manager)
    for _ in range(5):
        response = client.patch(detail_url(customer), {"phone": "13900139000"}, format="json")
        assert response.status_code == 403
    assert not lockout.is_locked(username=manager.username, ip="127.0.0.1")
    assert not AuditEvent.objects.filter(action="login_failure").exists()
    response = client.patch(
        detail_url(customer),
        {"phone": "13900139000", "verification": {"password": "pass-1234-word"}},
        format="json",
    )
    assert response.status_code == 200
    cache.clear()
