"""Business reads about customers that span tables: the list and the full customer view."""

from datetime import datetime, time, timedelta

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from customers.models import (
    Communication,
    Customer,
    CustomerTag,
    Order,
    OrderItem,
    TagSource,
    TagType,
)

RECENT_NOTES = 10
RECENT_ORDERS = 5
RECENT_COMMUNICATIONS = 5
FOLLOW_UP_WINDOWS = ("today", "overdue", "week")


def customer_list() -> QuerySet:
    """The staff list with tags, newest first; CustomerFilter hides archived customers unless
    the status filter asks for them."""
    return Customer.objects.prefetch_related("tags")


def customer_detail(*, pk) -> Customer:
    """One customer with tags, addresses, recent notes, the last RECENT_ORDERS orders with
    their items and the last RECENT_COMMUNICATIONS communications; raises Customer.DoesNotExist.
    """
    customer = Customer.objects.prefetch_related("tags", "addresses").get(pk=pk)
    customer.recent_notes = list(customer.notes.select_related("author")[:RECENT_NOTES])
    customer.recent_orders = list(customer_orders(customer_id=pk)[:RECENT_ORDERS])
    customer.recent_communications = list(
        customer_communications(customer_id=pk)[:RECENT_COMMUNICATIONS]
    )
    return customer


def customer_orders(*, customer_id) -> QuerySet:
    """A customer's orders with their items (one more query), newest first: the index
    order_customer_covering_idx serves it."""
    return (
        Order.objects.filter(customer_id=customer_id)
        .prefetch_related(Prefetch("items", queryset=OrderItem.objects.order_by("id")))
        .order_by("-placed_at", "-id")
    )


def customer_communications(*, customer_id) -> QuerySet:
    """A customer's communications with their staff member and order (one query), newest
    first: the index communication_customer_idx serves it."""
    return (
        Communication.objects.filter(customer_id=customer_id)
        .select_related("staff", "order", "follow_up_owner")
        .order_by("-occurred_at", "-id")
    )


def follow_ups_due(*, owner, due: str = "today", now: datetime | None = None) -> QuerySet:
    """The open follow-ups (not done) of `owner` (a user, or None for the whole team) in the
    window `due` (follow_up_window), soonest first, with their customer's name and phone and
    their owner. The partial index communication_followup_idx serves each window."""
    follow_ups = Communication.objects.filter(OPEN_FOLLOW_UP, follow_up_window(due, now=now))
    if owner is not None:
        follow_ups = follow_ups.filter(follow_up_owner=owner)
    return (
        follow_ups.select_related("customer", "follow_up_owner")
        .only(*FOLLOW_UP_FIELDS)
        .order_by("follow_up_at", "id")
    )


# The condition of the partial index communication_followup_idx, which a query must repeat
# for PostgreSQL to use it.
OPEN_FOLLOW_UP = Q(follow_up_at__isnull=False, follow_up_done_at__isnull=True)

# What the follow-up lists show; the customer's wide row is not loaded.
FOLLOW_UP_FIELDS = (
    "channel",
    "content",
    "result",
    "follow_up_at",
    "follow_up_done_at",
    "created_at",
    "staff_id",
    "follow_up_owner__username",
    "customer__name",
    "customer__phone",
    "customer__email",
)


def follow_up_window(due: str, *, now: datetime | None = None) -> Q:
    """Follow-ups due `today` (in the current time zone), `overdue` (before `now`), within the
    `week` from `now`, or `by_today` (before tomorrow: overdue and today's, the admin's default).
    Raises ValueError for another `due`."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    # Midnights made aware one by one: a day is not always 24 hours where clocks change.
    midnight = timezone.make_aware(datetime.combine(today, time.min))
    tomorrow = timezone.make_aware(datetime.combine(today + timedelta(days=1), time.min))
    if due == "today":
        return Q(follow_up_at__gte=midnight, follow_up_at__lt=tomorrow)
    if due == "overdue":
        return Q(follow_up_at__lt=now)
    if due == "week":
        return Q(follow_up_at__gte=now, follow_up_at__lt=now + timedelta(days=7))
    if due == "by_today":
        return Q(follow_up_at__lt=tomorrow)
    raise ValueError(f"due must be one of {', '.join(FOLLOW_UP_WINDOWS)} or by_today, not {due!r}")


HIDDEN_HISTORY_FIELDS = {"phone_index", "email_index", "phone_last4"}
PII_HISTORY_FIELDS = {"phone", "email"}


def customer_history_entries(records: list, *, older, reveal: bool) -> list[dict]:
    """Each history record with the fields it changed against the record before it.

    `records` is one page, newest first; `older` is the record just before the page's last one.
    Field diffs are computed in Python; the tag sets of all these records come in one query.
    """
    from customers.pii_access import shown_email, shown_phone

    shown = {"phone": shown_phone, "email": shown_email}
    tags_at = _tags_at([*records, *([older] if older else [])])
    entries = []
    previous_records = [*records[1:], older] if records else []
    for record, previous in zip(records, previous_records, strict=True):
        changes = []
        if previous is not None:
            delta = record.diff_against(previous, excluded_fields=["tags"])
            for change in delta.changes:
                if change.field in HIDDEN_HISTORY_FIELDS:
                    continue
                old, new = change.old, change.new
                if change.field in PII_HISTORY_FIELDS:
                    old = shown[change.field](old, reveal=reveal)
                    new = shown[change.field](new, reveal=reveal)
                changes.append({"field": change.field, "old": _plain(old), "new": _plain(new)})
            old_tags, new_tags = tags_at[previous.history_id], tags_at[record.history_id]
            if old_tags != new_tags:
                changes.append({"field": "tags", "old": old_tags, "new": new_tags})
        entries.append(
            {
                "id": str(record.history_id),
                "at": record.history_date,
                "type": {"+": "created", "~": "changed", "-": "deleted"}[record.history_type],
                "actor": record.history_user.username if record.history_user else None,
                "reason": record.history_change_reason,
                "changes": changes,
            }
        )
    return entries


def _tags_at(records: list) -> dict[int, list[str]]:
    """The tag names each history record saw, sorted, by history id (one query)."""
    from django.apps import apps

    tag_history = apps.get_model("customers", "HistoricalCustomerTag")
    tags = {record.history_id: [] for record in records}
    for history_id, name in tag_history.objects.filter(history_id__in=list(tags)).values_list(
        "history_id", "tag__name"
    ):
        tags[history_id].append(name or "?")
    return {history_id: sorted(names) for history_id, names in tags.items()}


def _plain(value):
    if value is None or isinstance(value, bool | int | float | str | list):
        return value
    return str(value)


def follow_up_counts(user, *, now: datetime | None = None) -> dict:
    """What waits for `user`, in one query over the small index of open follow-ups: theirs due
    by the end of today and how many of those are overdue, and the team's overdue ones (shown to
    those who may take them over, customers.change_communication)."""
    now = now or timezone.now()
    mine = Q(follow_up_owner=user)
    counts = Communication.objects.filter(OPEN_FOLLOW_UP, follow_up_window("by_today", now=now))
    return counts.aggregate(
        mine=Count("id", filter=mine),
        mine_overdue=Count("id", filter=mine & Q(follow_up_at__lt=now)),
        team_overdue=Count("id", filter=Q(follow_up_at__lt=now)),
    )


def customer_profile_tags(customer_id: int) -> list[dict]:
    """A customer's tags as spec 5.4 ProfileTag items, the most important first (the tag's
    weight, then its name): one query."""
    links = (
        CustomerTag.objects.filter(customer_id=customer_id)
        .select_related("tag")
        .order_by("-tag__weight", "tag__name")
    )
    return [
        {
            "name": link.tag.name,
            "type": TagType.MANUAL if link.source == TagSource.MANUAL else TagType.AUTO,
            "confidence": link.confidence,
            "source": link.source,
            "weight": link.tag.weight,
        }
        for link in links
    ]
