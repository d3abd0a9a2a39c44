"""GET /api/v1/audit-events: the audit trail for managers, newest first, filterable."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from crm.models import AuditEvent

pytestmark = pytest.mark.django_db

URL = "/api/v1/audit-events"


@pytest.fixture
def manager(make_user):
    return make_user("boss", roles=["manager"])


def event(**fields):
    return AuditEvent.objects.create(**{"action": "export", **fields})


def items(response):
    assert response.status_code == 200, response.json()
    return response.json()["data"]["items"]


def test_a_manager_gets_the_events_in_the_envelope_with_camel_case_keys(api_client, manager):
    AuditEvent.objects.all().delete()
    created = event(
        action="reveal_pii",
        actor=manager,
        actor_username="boss",
        object_type="customers.customer",
        object_id="42",
        object_repr="C000042 张三",
        ip="192.0.2.1",
        summary={"context": "customer detail"},
    )

    body = api_client(manager).get(URL).json()

    assert body["success"] is True
    assert body["data"]["items"] == [
        {
            "id": str(created.pk),
            "actor": "boss",
            "action": "reveal_pii",
            "objectType": "customers.customer",
            "objectId": "42",
            "objectRepr": "C000042 张三",
            "ip": "192.0.2.1",
            "createdAt": body["data"]["items"][0]["createdAt"],
            "summary": {"context": "customer detail"},
        }
    ]
    assert body["data"]["pagination"]["total"] == 1


def test_events_come_newest_first_with_ties_broken_by_id(api_client, manager):
    at = timezone.now() + timedelta(hours=1)
    older = event(created_at=at - timedelta(hours=1))
    first, second = event(created_at=at), event(created_at=at)

    ids = [item["id"] for item in items(api_client(manager).get(URL, {"limit": 3}))]

    assert ids == [str(second.pk), str(first.pk), str(older.pk)]


def test_the_cursor_walks_the_trail_without_gaps_or_repeats(api_client, manager):
    AuditEvent.objects.all().delete()
    at = timezone.now()
    for n in range(5):
        event(created_at=at - timedelta(minutes=n % 2))
    client = api_client(manager)

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        data = client.get(URL, params).json()["data"]
        seen += [item["id"] for item in data["items"]]
        cursor = data["pagination"]["nextCursor"]
        if not cursor:
            break

    # Each page read is itself an event (audit_read), newer than the walk's start.
    walked = AuditEvent.objects.exclude(action="audit_read").order_by("-created_at", "-id")
    expected = walked.values_list("pk", flat=True)
    assert seen == [str(pk) for pk in expected]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "login_failure"}, ["failed"]),
        ({"actor": "alice"}, ["alice-export"]),
        ({"objectType": "customers.customer", "objectId": "7"}, ["customer-7"]),
        ({"since": "2025-01-02T00:00:00Z"}, ["jan-2"]),
        ({"until": "2025-01-02T00:00:00Z", "action": "import"}, ["jan-1"]),
    ],
)
def test_filters(api_client, manager, params, expected):
    AuditEvent.objects.all().delete()
    jan = datetime(2025, 1, 1, 12, tzinfo=UTC)
    event(action="login_failure", object_repr="failed", created_at=jan - timedelta(days=9))
    event(actor_username="alice", object_repr="alice-export", created_at=jan - timedelta(days=9))
    event(
        object_type="customers.customer",
        object_id="7",
        object_repr="customer-7",
        created_at=jan - timedelta(days=9),
    )
    event(object_type="customers.customer", object_id="8", created_at=jan - timedelta(days=9))
    event(action="import", object_repr="jan-1", created_at=jan)
    event(action="import", object_repr="jan-2", created_at=jan + timedelta(days=1))

    found = items(api_client(manager).get(URL, params))

    assert [item["objectRepr"] for item in found] == expected


def test_an_unknown_action_filter_is_a_400_that_names_the_parameter(api_client, manager):
    response = api_client(manager).get(URL, {"action": "nope"})

    assert response.status_code == 400
    assert "action" in response.json()["error"]["fields"]


@pytest.mark.parametrize("role", ["customer_service", "marketing", "finance", "operations"])
def test_other_roles_get_403(api_client, make_user, role):
    response = api_client(make_user("staff", roles=[role])).get(URL)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_anonymous_gets_401(api_client):
    assert api_client().get(URL).status_code == 401


def test_the_list_costs_a_fixed_number_of_queries(api_client, manager, django_assert_num_queries):
    for n in range(30):
        event(object_id=str(n))
    client = api_client(manager)

    # The request's savepoint and release, the user's and the groups' permissions, count, page,
    # and the audit_read event of this read.
    with django_assert_num_queries(7):
        client.get(URL, {"limit": 30})
