"""The API conventions of DESIGN.md: envelope, errors, throttling, the OpenAPI schema and docs."""

import io
import logging

import pytest
from django.core.cache import cache
from rest_framework.throttling import UserRateThrottle

from tests.conftest import redis_or_skip

pytestmark = pytest.mark.django_db


def test_unknown_api_route_is_404(api_client, make_user):
    response = api_client(make_user(roles=["manager"])).get("/api/v1/customers/abc")
    assert response.status_code == 404


def test_throttled_requests_get_429_in_the_envelope(api_client, make_user, monkeypatch):
    redis_or_skip()
    cache.clear()
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/min"})
    client = api_client(make_user(roles=["manager"]))
    statuses = [client.get("/api/v1/customers").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/v1/customers")
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == "throttled"
    assert "Retry-After" in response.headers
    cache.clear()


def test_throttling_is_per_user(api_client, make_user, monkeypatch):
    redis_or_skip()
    cache.clear()
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "1/min"})
    first = api_client(make_user("first", roles=["manager"]))
    second = api_client(make_user("second", roles=["manager"]))
    assert first.get("/api/v1/customers").status_code == 200
    assert first.get("/api/v1/customers").status_code == 429
    assert second.get("/api/v1/customers").status_code == 200
    cache.clear()


def test_schema_documents_every_customer_endpoint(api_client, make_user):
    response = api_client(make_user(roles=["manager"])).get(
        "/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/v1/customers",
        "/api/v1/customers/{id}",
        "/api/v1/customers/{id}/history",
        "/api/v1/customers/batch-update",
        "/api/v1/customers/{id}/erase",
        "/api/v1/audit-events",
    ]:
        assert path in paths


def test_swagger_ui_is_served_offline(client, make_user):
    client.force_login(make_user(roles=["manager"]))
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content


def test_an_unknown_path_under_the_api_is_a_404_in_the_envelope(api_client, make_user):
    response = api_client(make_user(roles=["manager"])).get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == "not_found"


def test_a_non_integer_id_in_a_path_is_a_404_in_the_envelope(api_client, make_user):
    response = api_client(make_user(roles=["manager"])).get("/api/v1/customers/abc")

    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "not_found",
        "message": "Not found: check the path.",
        "fields": {},
    }


def test_an_unknown_path_outside_the_api_keeps_the_html_page(client):
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_unsupported_method_is_a_405_in_the_envelope(api_client, make_user):
    response = api_client(make_user(roles=["manager"])).delete("/api/v1/customers")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.urls("tests.server_error_urls")
def test_a_server_error_answers_in_the_envelope_with_the_request_id_it_is_logged_under(
    api_client, make_user
):
    client = api_client(make_user(roles=["manager"]))
    client.raise_request_exception = False
    console = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    log = io.StringIO()
    stream = console.setStream(log)
    try:
        response = client.get("/api/v1/test-failure")
    finally:
        console.setStream(stream)

    assert response.status_code == 500
    error = response.json()["error"]
    request_id = response["X-Request-ID"]
    assert error["code"] == "server_error"
    assert error["requestId"] == request_id
    assert request_id in error["message"]
    logged = [line for line in log.getvalue().splitlines() if f"[{request_id}]" in line]
    assert any("Internal Server Error: /api/v1/test-failure" in line for line in logged)


def test_a_request_id_given_by_the_proxy_is_kept(api_client, make_user):
    client = api_client(make_user(roles=["manager"]))

    response = client.get("/api/v1/customers", HTTP_X_REQUEST_ID="proxy-1234abcd")

    assert response["X-Request-ID"] == "proxy-1234abcd"


@pytest.mark.parametrize("given", ["<script>", "proxy-1234abcd\n"])
def test_a_request_id_that_does_not_look_like_one_is_replaced(api_client, make_user, given):
    client = api_client(make_user(roles=["manager"]))

    response = client.get("/api/v1/customers", HTTP_X_REQUEST_ID=given)

    assert response.status_code == 200
    assert response["X-Request-ID"] != given.strip()
    assert len(response["X-Request-ID"]) == 32


def test_a_204_has_no_body(api_client, make_user):
    from customers.services import customer_create

    customer = customer_create(actor=None, name="张三", phone="13800138000")
    client = api_client(make_user(roles=["manager"]))

    response = client.delete(f"/api/v1/customers/{customer.pk}")

    assert response.status_code == 204
    assert response.content == b""


@pytest.fixture
def schema(api_client, make_user):
    response = api_client(make_user(roles=["manager"])).get(
        "/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    return response.json()


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_schema_wraps_every_json_success_response_in_the_envelope(schema):
    wrapped = 0
    for _path, _method, operation in operations(schema):
        for status, response in operation["responses"].items():
            media = response.get("content", {}).get("application/json")
            if status.startswith("2") and media:
                assert media["schema"]["required"] == ["success", "data"]
                assert media["schema"]["properties"]["success"] == {
                    "type": "boolean",
                    "enum": [True],
                }
                wrapped += 1
    assert wrapped >= 40


def test_schema_gives_a_204_no_content(schema):
    deletes = [op for path, method, op in operations(schema) if method == "delete"]

    assert deletes
    assert all("content" not in op["responses"]["204"] for op in deletes)


def test_schema_documents_the_error_envelope_for_each_status_an_operation_answers(schema):
    error = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        expected = {"401", "403", "429"}
        if "{" in path:
            expected.add("404")
        if "requestBody" in operation:
            expected |= {"400", "415"}
        assert expected <= set(responses), (method, path)
        for status, response in responses.items():
            if status >= "400":
                assert response["content"] == {"application/json": {"schema": error}}


def test_schema_gives_the_bounds_of_limit_and_page(schema):
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/customers"]["get"]["parameters"]}

    assert parameters["limit"]["schema"] | {} == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 20,
    }
    assert parameters["page"]["schema"]["minimum"] == 1


def test_schema_refuses_unknown_keys_in_request_bodies_and_bounds_integers(schema):
    components = schema["components"]["schemas"]
    order = components["OrderInputRequest"]
    item = components["OrderItemRequest"]

    assert order["additionalProperties"] is False
    assert item["additionalProperties"] is False
    assert item["properties"]["quantity"]["maximum"] == 2**31 - 1
    assert order["properties"]["customerId"]["maximum"] == 2**63 - 1


def test_schema_links_lead_from_created_records_to_operations_that_exist(schema):
    operation_ids = {op["operationId"] for _path, _method, op in operations(schema)}
    links = schema["paths"]["/api/v1/customers"]["post"]["responses"]["201"]["links"]

    assert links["GetCustomer"] == {
        "operationId": "customers_retrieve",
        "parameters": {"id": "$response.body#/data/id"},
    }
    for _path, _method, operation in operations(schema):
        for response in operation["responses"].values():
            for link in response.get("links", {}).values():
                assert link["operationId"] in operation_ids


def test_schema_gives_integers_checked_by_their_model_the_range_of_their_column(schema):
    components = schema["components"]["schemas"]

    sort_order = components["LevelInputRequest"]["properties"]["sortOrder"]
    grace_days = components["RetentionRequest"]["properties"]["graceDays"]
    assert (sort_order["minimum"], sort_order["maximum"]) == (0, 2**15 - 1)
    assert (grace_days["minimum"], grace_days["maximum"]) == (0, 2**31 - 1)
    assert components["PatchedBenefitInputRequest"]["properties"]["sortOrder"]["maximum"] == 32767
