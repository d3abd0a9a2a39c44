"""The API conventions of DESIGN.md: envelope, errors, throttling, the OpenAPI schema and docs."""

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
