"""The behaviour events' admin: read-only, filtered by type and channel, never a COUNT(*) of the
unfiltered table once it is large."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.roles import MANAGER, OPERATIONS
from profiles import admin as events_admin
from profiles.models import BehaviourEvent

pytestmark = pytest.mark.django_db

URL = "/admin/profiles/behaviourevent/"


@pytest.fixture
def stored(make_customer):
    guest = make_customer()
    return BehaviourEvent.objects.create(
        customer=guest,
        type="share",
        channel="web",
        device="pc",
        occurred_at=timezone.now(),
        ip_prefix="203.0.113.0/24",
    )


def test_managers_read_the_events_filtered_and_cannot_change_them(client, make_user, stored):
    client.force_login(make_user("boss", roles=[MANAGER]))

    page = client.get(URL, {"type__exact": "share", "channel__exact": "web"})

    assert page.status_code == 200
    assert "203.0.113.0/24" in page.content.decode()
    assert client.get(f"{URL}add/").status_code == 403
    detail = client.get(f"{URL}{stored.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()


def test_operations_do_not_read_them(client, make_user, stored):
    client.force_login(make_user("ops", roles=[OPERATIONS]))

    assert client.get(URL).status_code == 403


def test_a_large_table_is_not_counted(client, make_user, stored, monkeypatch):
    monkeypatch.setattr(events_admin, "estimated_event_rows", lambda: 5_000_000)
    client.force_login(make_user("boss", roles=[MANAGER]))

    with CaptureQueriesContext(connection) as captured:
        page = client.get(URL)

    assert page.status_code == 200
    counts = [
        q["sql"]
        for q in captured.captured_queries
        if "COUNT(" in q["sql"] and "profiles_behaviourevent" in q["sql"]
    ]
    assert counts == []
