"""Operations the audit trail missed: logouts, failed API token authentications (at most one
event per IP per minute) and reads of the audit trail itself."""

import pytest
from rest_framework.test import APIClient

from crm.auth import token_failures
from crm.auth.tokens import create_api_token, revoke_api_token
from crm.models import AuditEvent

pytestmark = pytest.mark.django_db

URL = "/api/v1/customers"


@pytest.fixture
def manager(make_user):
    return make_user("boss", roles=["manager"])


@pytest.fixture
def frozen_minute(monkeypatch):
    """token_failures' clock, set by the test: no flaky minute boundary."""
    clock = {"now": 1_800_000_000.0}
    monkeypatch.setattr(token_failures.time, "time", lambda: clock["now"])
    return clock


def events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def with_token(header, ip="198.51.100.1"):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR=ip)
    client.credentials(HTTP_AUTHORIZATION=header)
    return client


# --- logout ---------------------------------------------------------------------------------


def test_an_admin_logout_is_audited_with_the_user_and_ip(client, manager):
    client.force_login(manager)

    client.post("/admin/logout/", REMOTE_ADDR="192.0.2.9")

    (event,) = events("logout")
    assert event.actor == manager
    assert event.ip == "192.0.2.9"


def test_logging_out_without_a_session_records_nothing(client):
    client.post("/admin/logout/")

    assert events("logout") == []


# --- failed token authentications -----------------------------------------------------------


def test_failed_token_authentications_are_one_event_per_ip_per_minute(frozen_minute):
    for _ in range(3):
        assert with_token("Token wrong-key").get(URL).status_code == 401
    with_token("Token wrong-key", ip="198.51.100.2").get(URL)

    first, other_ip = events("token_failure")
    assert (first.ip, other_ip.ip) == ("198.51.100.1", "198.51.100.2")
    assert first.summary == {"reason": "invalid", "failuresPreviousMinute": 0}


def test_the_next_minutes_event_counts_the_failures_of_the_minute_before(frozen_minute):
    for _ in range(3):
        with_token("Token wrong-key").get(URL)
    frozen_minute["now"] += 60

    with_token("Bearer two words").get(URL)

    latest = events("token_failure")[-1]
    assert len(events("token_failure")) == 2
    assert latest.summary == {"reason": "malformed", "failuresPreviousMinute": 3}


def test_a_revoked_tokens_failure_names_the_token_but_not_its_key(frozen_minute, manager):
    token, key = create_api_token(user=manager)
    revoke_api_token(token=token)

    assert with_token(f"Token {key}").get(URL).status_code == 401

    (event,) = events("token_failure")
    assert event.object_id == str(token.pk)
    assert event.summary["reason"] == "revoked"
    assert event.summary["user"] == "boss"
    assert key not in str(event.summary)


# --- reads of the audit trail ---------------------------------------------------------------


def test_reading_the_audit_events_through_the_api_is_itself_audited(api_client, manager):
    response = api_client(manager).get("/api/v1/audit-events?action=export&page=1")

    assert response.status_code == 200
    (event,) = events("audit_read")
    assert event.actor == manager
    assert event.object_type == "crm.auditevent"
    assert event.summary == {"via": "api", "filters": {"action": "export"}}


def test_reading_the_audit_trail_in_the_admin_is_audited(client, manager):
    client.force_login(manager)

    assert client.get("/admin/crm/auditevent/?q=boss").status_code == 200
    assert client.get("/admin/crm/accesslog/").status_code == 200

    read = [(e.object_type, e.summary) for e in events("audit_read")]
    assert read == [
        ("crm.auditevent", {"via": "admin", "filters": {"q": "boss"}}),
        ("crm.accesslog", {"via": "admin", "filters": {}}),
    ]


def test_a_refused_read_of_the_audit_trail_is_not_a_read(api_client, make_user):
    assert api_client(make_user("nobody")).get("/api/v1/audit-events").status_code == 403

    assert events("audit_read") == []
