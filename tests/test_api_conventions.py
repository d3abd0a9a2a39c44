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


def test_a_request_id_that_does_not_look_like_one_is_replaced(api_client, make_user):
    client = api_client(make_user(roles=["manager"]))

    response = client.get("/api/v1/customers", HTTP_X_REQUEST_ID="<script>")

    assert response["X-Request-ID"] != "<script>"
    assert len(response["X-Request-ID"]) == 32


def test_a_204_has_no_body(api_client, make_user):
    from customers.services import customer_create

    customer = customer_create(actor=None, name="张三", phone="13800138000")
    client = api_client(make_user(roles=["manager"]))

    response = client.delete(f"/api/v1/customers/{customer.pk}")

    assert response.status_code == 204
    assert response.content == b""
