"""Business reads about customers that span tables: the list and the full customer view."""

from django.db.models import QuerySet

from customers.models import Customer

RECENT_NOTES = 10


def customer_list() -> QuerySet:
    """The staff list with tags, newest first; CustomerFilter hides archived customers unless
    the status filter asks for them."""
    return Customer.objects.prefetch_related("tags")


def customer_detail(*, pk) -> Customer:
    """One customer with tags, addresses and recent notes; raises Customer.DoesNotExist.

    `recent_orders` and `recent_communications` are filled by the orders issue; until then the
    detail shape of spec 4.1 carries them as empty lists.
    """
    customer = Customer.objects.prefetch_related("tags", "addresses").get(pk=pk)
    customer.recent_notes = list(customer.notes.select_related("author")[:RECENT_NOTES])
    customer.recent_orders = []
    customer.recent_communications = []
    return customer


HIDDEN_HISTORY_FIELDS = {"phone_index", "email_index", "phone_last4"}
PII_HISTORY_FIELDS = {"phone", "email"}


def customer_history_entries(records: list, *, older, reveal: bool) -> list[dict]:
    """Each history record with the fields it changed against the record before it.

    `records` is one page, newest first; `older` is the record just before the page's last one.
    """
    from customers.pii_access import shown_email, shown_phone

    shown = {"phone": shown_phone, "email": shown_email}
    entries = []
    for record, previous in zip(records, [*records[1:], older], strict=True):
        changes = []
        if previous is not None:
            delta = record.diff_against(previous)
            for change in delta.changes:
                if change.field in HIDDEN_HISTORY_FIELDS:
                    continue
                old, new = change.old, change.new
                if change.field in PII_HISTORY_FIELDS:
                    old = shown[change.field](old, reveal=reveal)
                    new = shown[change.field](new, reveal=reveal)
                if change.field == "tags":
                    old = sorted(str(item["tag"]) for item in old)
                    new = sorted(str(item["tag"]) for item in new)
                changes.append({"field": change.field, "old": _plain(old), "new": _plain(new)})
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


def _plain(value):
    if value is None or isinstance(value, bool | int | float | str | list):
        return value
    return str(value)
