"""Business reads about customers that span tables: the list and the full customer view."""

from django.db.models import Prefetch, QuerySet

from customers.models import Customer, Order, OrderItem

RECENT_NOTES = 10
RECENT_ORDERS = 5


def customer_list() -> QuerySet:
    """The staff list with tags, newest first; CustomerFilter hides archived customers unless
    the status filter asks for them."""
    return Customer.objects.prefetch_related("tags")


def customer_detail(*, pk) -> Customer:
    """One customer with tags, addresses, recent notes and the last RECENT_ORDERS orders with
    their items; raises Customer.DoesNotExist.

    `recent_communications` is filled by the communications part of issue 4; until then the
    detail shape of spec 4.1 carries it as an empty list.
    """
    customer = Customer.objects.prefetch_related("tags", "addresses").get(pk=pk)
    customer.recent_notes = list(customer.notes.select_related("author")[:RECENT_NOTES])
    customer.recent_orders = list(customer_orders(customer_id=pk)[:RECENT_ORDERS])
    customer.recent_communications = []
    return customer


def customer_orders(*, customer_id) -> QuerySet:
    """A customer's orders with their items (one more query), newest first: the index
    order_customer_idx serves it."""
    return (
        Order.objects.filter(customer_id=customer_id)
        .prefetch_related(Prefetch("items", queryset=OrderItem.objects.order_by("id")))
        .order_by("-placed_at", "-id")
    )


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
    for record, previous in zip(records, [*records[1:], older], strict=True):
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
