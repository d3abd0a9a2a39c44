"""Recording behaviour events (spec 2.4.3 埋点数据): a batch from an app or a mini-program,
each event checked on its own, the good ones stored in one INSERT, the bad ones reported by their
index in the batch.

Desensitised on the way in (spec 行为数据脱敏处理): of the sender's IP only its network is kept
(/24 for IPv4, /48 for IPv6: the site, not the household), of the user agent only the device
class, and only when the event does not name its device.
"""

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.audit import valid_ip
from crm.encryption import blind_index_candidates, blind_index_match
from customers.models import Customer
from profiles.models import BehaviourEvent, DeviceClass
from profiles.services.portraits import refresh_customers

MAX_BATCH = 500
# The senders' clocks drift; an event stamped further ahead than this is refused.
MAX_CLOCK_SKEW = timedelta(minutes=5)
IPV4_PREFIX = 24
IPV6_PREFIX = 48


@dataclass
class EventsResult:
    accepted: int = 0
    # {index in the batch: {field: [messages]}}
    rejected: dict[int, dict[str, list[str]]] = field(default_factory=dict)


def record_events(
    *, events: dict[int, dict], ip: str | None, user_agent: str, now: datetime | None = None
) -> EventsResult:
    """Store the events, given by their index in the batch. Each is a dict of the model's field
    names with `customer_id` or `phone` (normalised, E.164) naming the customer. An event whose
    customer is not found (or archived: an erased guest is no longer followed) or whose time is
    outside the retention window is rejected; the others are stored in one INSERT."""
    now = now or timezone.now()
    result = EventsResult()
    customers = _customer_ids(events.values())
    network = ip_prefix(ip)
    fallback_device = device_class(user_agent)
    oldest = now - timedelta(days=settings.BEHAVIOUR_EVENT_RETENTION_DAYS)
    rows = []
    for index, event in events.items():
        errors = {}
        customer_id = customers.get(_customer_key(event))
        if customer_id is None:
            errors["customer"] = [_("No such customer.")]
        if event["occurred_at"] > now + MAX_CLOCK_SKEW:
            errors["occurred_at"] = [_("The time is in the future.")]
        elif event["occurred_at"] < oldest:
            errors["occurred_at"] = [_("The time is older than the events are kept.")]
        if errors:
            result.rejected[index] = errors
            continue
        rows.append(
            BehaviourEvent(
                customer_id=customer_id,
                type=event["type"],
                channel=event["channel"],
                device=event.get("device") or fallback_device,
                dish=event.get("dish", ""),
                category=event.get("category", ""),
                session_id=event.get("session_id", ""),
                duration_seconds=event.get("duration_seconds"),
                occurred_at=event["occurred_at"],
                received_at=now,
                ip_prefix=network,
            )
        )
    BehaviourEvent.objects.bulk_create(rows)
    result.accepted = len(rows)
    # The behaviour portrait and the tags follow at once (spec 实时更新行为画像), once the events
    # are in.
    customer_ids = {row.customer_id for row in rows}
    transaction.on_commit(partial(refresh_customers, customer_ids))
    return result


def erase_customer_events(*, customer) -> None:
    """An erasure (a customers erasure hook): what the person did goes with who they were."""
    BehaviourEvent.objects.filter(customer_id=customer.pk).delete()


def ip_prefix(ip: str | None) -> str:
    """The network of `ip`: 203.0.113.7 -> "203.0.113.0/24", an IPv6 address -> its /48; ""
    for a missing or malformed one. An IPv4 address written as IPv6 (::ffff:203.0.113.7) is
    truncated as the IPv4 address it is."""
    valid = valid_ip(ip)
    if valid is None:
        return ""
    address = ipaddress.ip_address(valid)
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def device_class(user_agent: str) -> str:
    """mobile, tablet, pc or unknown from a user agent, by the tokens browsers and the WeChat
    and app web views send; tablets first, because an iPad or an Android tablet also names
    the mobile platform."""
    agent = (user_agent or "").lower()
    if "ipad" in agent or "tablet" in agent or ("android" in agent and "mobile" not in agent):
        return DeviceClass.TABLET
    if any(token in agent for token in ("mobi", "iphone", "android", "micromessenger")):
        return DeviceClass.MOBILE
    if any(token in agent for token in ("windows", "macintosh", "x11", "cros", "linux")):
        return DeviceClass.PC
    return DeviceClass.UNKNOWN


def _customer_key(event: dict) -> tuple[str, object]:
    if event.get("customer_id") is not None:
        return ("id", event["customer_id"])
    return ("phone", event["phone"])


def _customer_ids(events) -> dict[tuple[str, object], int]:
    """The live customers the events name, by ("id", id) or ("phone", phone): one query for
    the ids and one for the phones (through the blind index), whatever the batch's size."""
    ids, phones = set(), set()
    for event in events:
        kind, value = _customer_key(event)
        (ids if kind == "id" else phones).add(value)
    found = {}
    live = Customer.objects.live()
    if ids:
        for pk in live.filter(pk__in=ids).values_list("pk", flat=True):
            found[("id", pk)] = pk
    if phones:
        by_hash = {
            bytes(candidate): phone
            for phone in phones
            for candidate in blind_index_candidates(phone, purpose="phone")
        }
        rows = live.filter(blind_index_match("phone_index", by_hash)).values_list(
            "pk", "phone_index", "phone_index_next"
        )
        for pk, *hashes in rows:
            for value in hashes:
                if value is not None and bytes(value) in by_hash:
                    found[("phone", by_hash[bytes(value)])] = pk
    return found
