"""No input gets past the API's checks to the database or the renderer: each answers with a 400
in the error envelope that names the field at fault (issue 10, spec §4)."""

import json

import pytest

from crm.api.parsers import MAX_DEPTH

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders"
CUSTOMERS = "/api/v1/customers"


@pytest.fixture
def client(api_client, make_user):
    return api_client(make_user("boss", superuser=True))


def order_body(**overrides):
    return {
        "externalId": "POS-1",
        "source": "pos",
        "customer": {"phone": "13800138000", "name": "张三"},
        "placedAt": "2025-01-20T12:10:00+08:00",
        "amount": 48,
        "items": [{"dish": "宫保鸡丁", "quantity": 1, "price": 48}],
        **overrides,
    }


def error_of(response, status=400):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False
    return body["error"]


def post_raw(client, path, raw: bytes):
    return client.generic("POST", path, raw, content_type="application/json")


def test_an_error_inside_a_list_of_objects_names_its_path(client):
    items = [
        {"dish": "米饭", "quantity": 1, "price": 2},
        {"dish": "汤", "quantity": 1, "price": -1},
    ]

    error = error_of(client.post(ORDERS, order_body(items=items), format="json"))

    message = "Ensure this value is greater than or equal to 0."
    assert error["fields"] == {"items": {"1": {"price": [message]}}}
    assert error["message"] == f"items[1].price: {message}"


def test_an_error_inside_a_list_of_values_names_its_position(client):
    body = {"format": "csv", "fields": ["name", ""]}

    error = error_of(client.post("/api/v1/customers/export", body, format="json"))

    assert set(error["fields"]["fields"]) == {"1"}
    assert error["message"].startswith("fields[1]: ")


def test_a_customer_id_below_one_in_a_batch_enrolment_names_its_position(client):
    body = {"customerIds": [0], "levelId": 1, "duration": 30}

    error = error_of(client.post("/api/v1/membership/enroll/batch", body, format="json"))

    message = "Ensure this value is greater than or equal to 1."
    assert error["fields"] == {"customerIds": {"0": [message]}}


@pytest.mark.parametrize("value", [35303598153950703616, -35303598153950703616])
def test_an_integer_past_what_any_column_holds_is_refused(client, value):
    body = {"code": "gold", "name": "金卡", "sortOrder": value}

    error = error_of(client.post("/api/v1/membership/levels", body, format="json"))

    assert set(error["fields"]) == {"sortOrder"}


def test_an_integer_past_its_int_column_is_refused_before_the_write(client):
    items = [{"dish": "米饭", "quantity": 2**31, "price": 2}]

    error = error_of(client.post(ORDERS, order_body(items=items), format="json"))

    assert error["fields"] == {
        "items": {"0": {"quantity": ["Ensure this value is less than or equal to 2147483647."]}}
    }


def test_an_unknown_key_is_refused_naming_it_as_sent(client):
    body = {"name": "张三", "phone": "13800138000", "birth_day": "1990-01-01"}

    error = error_of(client.post(CUSTOMERS, body, format="json"))

    assert error["fields"] == {"birth_day": ["Unknown field: leave it out."]}


def test_an_unknown_key_in_a_nested_object_is_refused_with_its_path(client):
    items = [{"dish": "米饭", "quantity": 1, "price": 2, "colour": "white"}]

    error = error_of(client.post(ORDERS, order_body(items=items), format="json"))

    assert error["fields"] == {"items": {"0": {"colour": ["Unknown field: leave it out."]}}}
    assert error["message"] == "items[0].colour: Unknown field: leave it out."


@pytest.mark.parametrize("text", ["张\x00三", "张\ud800三"])
def test_nul_and_lone_surrogates_in_text_are_refused_naming_the_field(client, text):
    raw = json.dumps({"name": text, "phone": "13800138000"}).encode()

    error = error_of(post_raw(client, CUSTOMERS, raw))

    assert set(error["fields"]) == {"name"}
    assert "NUL" in error["message"]


def test_a_lone_surrogate_in_a_key_is_refused_not_echoed(client):
    raw = b'{"name": "x", "phone": "13800138000", "\\udc00": 1}'

    error = error_of(post_raw(client, CUSTOMERS, raw))

    assert error["fields"] == {"nonField": [error["message"]]}


def test_nul_deep_in_a_list_names_the_path(client):
    items = [{"dish": "米饭", "quantity": 1, "price": 2, "tastes": ["辣", "\x00"]}]
    raw = json.dumps(order_body(items=items)).encode()

    error = error_of(post_raw(client, ORDERS, raw))

    assert list(error["fields"]["items"]["0"]["tastes"]) == ["1"]
    assert error["message"].startswith("items[0].tastes[1]: ")


def test_a_body_that_is_not_utf8_is_refused(client):
    error = error_of(post_raw(client, CUSTOMERS, b'{"name": "\xff\xfe"}'))

    assert error["code"] == "parse_error"


@pytest.mark.parametrize("raw", [b'{"amount": NaN}', b'{"amount": Infinity}', b"{"])
def test_a_body_that_is_not_json_is_refused(client, raw):
    assert error_of(post_raw(client, ORDERS, raw))["code"] == "parse_error"


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])
def test_a_body_nested_too_deep_is_refused(client, depth):
    raw = b"[" * depth + b"]" * depth

    assert error_of(post_raw(client, ORDERS, raw))["code"] == "parse_error"


def test_messages_of_the_pagination_are_in_the_request_language_only(api_client, make_user):
    user = make_user("boss", superuser=True)

    english = error_of(api_client(user, "en").get(CUSTOMERS, {"limit": 1000}))
    chinese = error_of(api_client(user, "zh-hans").get(CUSTOMERS, {"limit": 1000}))

    assert english["fields"]["limit"] == ["Must be a whole number from 1 to 100."]
    assert chinese["fields"]["limit"] == ["必须是 1 到 100 之间的整数。"]


def test_an_empty_page_of_a_customers_history_is_empty_not_an_error(client):
    from customers.services import customer_create

    customer = customer_create(actor=None, name="张三", phone="13800138000")

    response = client.get(f"/api/v1/customers/{customer.pk}/history", {"page": 5})

    assert response.status_code == 200
    assert response.json()["data"]["items"] == []


def test_a_time_with_an_offset_postgresql_refuses_is_compared_in_utc(client):
    response = client.get("/api/v1/audit-events", {"since": "1943-10-01T23:52:05+19:28"})

    assert response.status_code == 200


def test_a_time_that_is_before_year_one_in_utc_is_refused(client):
    error = error_of(client.get("/api/v1/audit-events", {"since": "0001-01-01T00:00:00+23:00"}))

    assert set(error["fields"]) == {"since"}
