"""POST /api/v1/events and profiles.services.events: each event checked on its own, the good
ones stored in one INSERT, the IP kept as its network and the user agent as a device class."""

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from crm.partitions import month_start
from crm.roles import CUSTOMER_SERVICE, MANAGER, OPERATIONS
from customers.models import Customer, CustomerStatus
from customers.services.archive import customer_erase
from profiles.models import BehaviourEvent
from profiles.services.event_partitions import EVENTS
from profiles.services.events import device_class, ip_prefix

pytestmark = pytest.mark.django_db

URL = "/api/v1/events"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile"


def event(customer, **fields):
    return {
        "customerId": customer.pk,
        "type": "view",
        "channel": "mini_program",
        "timestamp": timezone.now().isoformat(),
        **fields,
    }


@pytest.fixture
def sender(make_user, api_client):
    return api_client(make_user("ordering", roles=[OPERATIONS]))


def post(client, events, **headers):
    return client.post(URL, {"events": events}, format="json", **headers)


def test_good_events_are_stored_and_bad_ones_reported_by_index(sender, make_customer):
    guest = make_customer()
    batch = [
        event(guest, dish="宫保鸡丁", category="川菜", sessionId="s1", duration=42),
        event(guest, type="dance"),
        {"type": "view"},
        event(guest, customerId=999_999_999),
        event(guest, type="favourite", device="tablet"),
        "not an event",
        event(guest, unexpected=1),
    ]

    response = post(sender, batch)

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["accepted"] == 2
    rejected = {entry["index"]: entry["errors"] for entry in data["rejected"]}
    assert set(rejected) == {1, 2, 3, 5, 6}
    assert "type" in rejected[1]
    assert {"channel", "timestamp"} <= set(rejected[2])
    assert rejected[3] == {"customerId": ["No such customer."]}
    assert "unexpected" in rejected[6]
    stored = BehaviourEvent.objects.filter(customer_id=guest.pk).order_by("id")
    assert [(e.type, e.device) for e in stored] == [("view", "unknown"), ("favourite", "tablet")]
    first = stored[0]
    assert (first.dish, first.category, first.session_id, first.duration_seconds) == (
        "宫保鸡丁",
        "川菜",
        "s1",
        42,
    )


def test_a_customer_is_found_by_phone_through_the_blind_index(sender, make_customer):
    guest = make_customer(phone="13800138123")
    batch = [
        {
            "phone": "138 0013 8123",
            "type": "share",
            "channel": "app",
            "timestamp": "2026-12-01T12:00:00+08:00",
        },
        {
            "phone": "13900000000",
            "type": "share",
            "channel": "app",
            "timestamp": "2026-12-01T12:00:00+08:00",
        },
        {
            "phone": "12",
            "type": "share",
            "channel": "app",
            "timestamp": "2026-12-01T12:00:00+08:00",
        },
        {
            "phone": "13800138123",
            "customerId": guest.pk,
            "type": "view",
            "channel": "app",
            "timestamp": "2026-12-01T12:00:00+08:00",
        },
    ]

    data = post(sender, batch).json()["data"]

    assert data["accepted"] == 1
    rejected = {entry["index"]: entry["errors"] for entry in data["rejected"]}
    assert rejected[1] == {"phone": ["No such customer."]}
    assert set(rejected) == {1, 2, 3}
    assert BehaviourEvent.objects.get().customer_id == guest.pk


def test_an_archived_customer_is_no_longer_followed(sender, make_customer):
    guest = make_customer()
    Customer.objects.filter(pk=guest.pk).update(status=CustomerStatus.ARCHIVED)

    data = post(sender, [event(guest)]).json()["data"]

    assert data["accepted"] == 0
    assert data["rejected"][0]["errors"] == {"customerId": ["No such customer."]}


def test_times_in_the_future_or_past_the_retention_are_refused(sender, make_customer, settings):
    settings.BEHAVIOUR_EVENT_RETENTION_DAYS = 30
    guest = make_customer()
    now = timezone.now()
    batch = [
        event(guest, timestamp=(now + timedelta(hours=1)).isoformat()),
        event(guest, timestamp=(now - timedelta(days=31)).isoformat()),
        event(guest, timestamp=(now - timedelta(days=29)).isoformat()),
    ]

    data = post(sender, batch).json()["data"]

    assert data["accepted"] == 1
    assert [entry["index"] for entry in data["rejected"]] == [0, 1]
    assert all(set(entry["errors"]) == {"timestamp"} for entry in data["rejected"])


def test_the_batch_itself_is_bounded(sender, make_customer):
    guest = make_customer()

    assert post(sender, []).status_code == 400
    assert post(sender, [event(guest)] * 501).status_code == 400
    assert sender.post(URL, {"events": [], "more": 1}, format="json").status_code == 400


def test_no_raw_ip_or_user_agent_is_stored(sender, make_customer):
    guest = make_customer()

    post(sender, [event(guest)], REMOTE_ADDR="203.0.113.77", HTTP_USER_AGENT=IPHONE)

    stored = BehaviourEvent.objects.get()
    assert (stored.ip_prefix, stored.device) == ("203.0.113.0/24", "mobile")
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(e)::text FROM profiles_behaviourevent e")
        row = cursor.fetchone()[0]
    assert "203.0.113.77" not in row
    assert "iPhone" not in row and "Mozilla" not in row


@pytest.mark.parametrize(
    ("ip", "prefix"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::/48"),
        ("::ffff:198.51.100.9", "198.51.100.0/24"),
        ("not an ip", ""),
        (None, ""),
    ],
)
def test_the_ip_is_truncated_to_its_network(ip, prefix):
    assert ip_prefix(ip) == prefix


@given(st.ip_addresses())
def test_the_prefix_never_reveals_the_host_part(address):
    prefix = ip_prefix(str(address))
    network = ipaddress.ip_network(prefix)

    assert network.prefixlen in (24, 48)
    # Every host bit is zero: what is kept is the same for all the network's addresses.
    assert int(network.network_address) & int(network.hostmask) == 0
    if network.version == 4 and address.version == 4:
        assert address in network


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        (IPHONE, "mobile"),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/120 Mobile Safari/537.36", "mobile"),
        ("Mozilla/5.0 (Linux; Android 13; SM-X700) Chrome/120 Safari/537.36", "tablet"),
        ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)", "tablet"),
        ("Mozilla/5.0 (iPhone) MicroMessenger/8.0.40 miniProgram", "mobile"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120", "pc"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Safari/605", "pc"),
        ("curl/8.4", "unknown"),
        ("", "unknown"),
    ],
)
def test_the_device_class_comes_from_the_user_agent(agent, device):
    assert device_class(agent) == device


def test_a_role_without_the_permission_is_refused(make_user, api_client, make_customer):
    guest = make_customer()
    client = api_client(make_user("agent", roles=[CUSTOMER_SERVICE]))

    assert post(client, [event(guest)]).status_code == 403
    assert api_client().post(URL, {"events": [event(guest)]}, format="json").status_code == 401
    assert not BehaviourEvent.objects.exists()


def test_managers_may_record_events_too(make_user, api_client, make_customer):
    client = api_client(make_user("boss", roles=[MANAGER]))

    assert post(client, [event(make_customer())]).json()["data"]["accepted"] == 1


def test_a_batch_costs_the_same_queries_whatever_its_size(sender, make_customer):
    guests = [make_customer() for _ in range(5)]

    def queries(size):
        # Half by id, half by phone: one lookup query each, one INSERT for all.
        batch = [event(guests[i % 5]) for i in range(size // 2)]
        batch += [
            {**event(guests[i % 5]), "customerId": None, "phone": guests[i % 5].phone}
            for i in range(size - len(batch))
        ]
        for entry in batch:
            if entry["customerId"] is None:
                del entry["customerId"]
        with CaptureQueriesContext(connection) as captured:
            assert post(sender, batch).json()["data"]["accepted"] == size
        inserts = [q for q in captured.captured_queries if q["sql"].startswith("INSERT")]
        assert len(inserts) == 1
        return len(captured.captured_queries)

    queries(1)  # the user's permissions, loaded once and cached on the user
    assert queries(100) == queries(10)
    assert BehaviourEvent.objects.count() == 111


def test_an_event_of_an_old_month_lands_in_its_partition_and_a_far_one_in_the_default(
    make_customer,
):
    guest = make_customer()
    now = timezone.now()
    EVENTS.create_partition(datetime(2031, 5, 1, tzinfo=UTC))

    this_month = BehaviourEvent.objects.create(
        customer=guest, type="view", channel="app", device="pc", occurred_at=now
    )
    far = BehaviourEvent.objects.create(
        customer=guest,
        type="view",
        channel="app",
        device="pc",
        occurred_at=datetime(2035, 1, 1, tzinfo=UTC),
    )
    may = BehaviourEvent.objects.create(
        customer=guest,
        type="view",
        channel="app",
        device="pc",
        occurred_at=datetime(2031, 5, 9, tzinfo=UTC),
    )

    assert partition_of(this_month) == EVENTS.partition_name(month_start(now))
    assert partition_of(may) == "profiles_behaviourevent_p2031_05"
    assert partition_of(far) == "profiles_behaviourevent_default"


def partition_of(row) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM profiles_behaviourevent WHERE id = %s", [row.pk]
        )
        return cursor.fetchone()[0]


def test_erasing_a_customer_erases_their_events_and_no_one_elses(sender, make_customer):
    guest, other = make_customer(), make_customer()
    post(sender, [event(guest), event(guest, type="share"), event(other)])

    customer_erase(customer=guest, actor=None, reason="客户要求删除个人信息")

    assert list(BehaviourEvent.objects.values_list("customer_id", flat=True)) == [other.pk]
