"""The access log of reads (crm.models.AccessLog, docs/audit.md): every screen and endpoint that
shows customer records registers the ids it showed, masked or not, and one row per request is
written after the view: one INSERT, however many rows the page showed.

The reads are gathered on the request's context (crm.request_context.per_request) and written
by RequestContextMiddleware once the view has returned (run_after_view), outside the view's
transaction, so a read is logged even when the request rolls back.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from crm.audit import valid_ip
from crm.models import AccessLog
from crm.request_context import current_ip, current_request, per_request, run_after_view

ACTION_MAX_LENGTH = AccessLog._meta.get_field("action").max_length
_KEY = "crm.access_log"


@dataclass
class PendingReads:
    """The reads of one request: customer ids in the order first shown, and the rows shown."""

    customer_ids: dict[int, None] = field(default_factory=dict)
    count: int = 0

    def add(self, customer_ids: list[int], count: int) -> None:
        self.customer_ids.update(dict.fromkeys(customer_ids))
        self.count += count


def register_read(*, customer_ids: Iterable[int], count: int | None = None) -> None:
    """Note that the current response shows these customers' records: `count` rows of them
    (default: one per customer; a customer's orders page passes the orders shown).

    Within a request the reads of every call are merged into the one row written after the
    view; outside a request (a shell) the row is written at once. Nothing is logged when no
    customer was shown (an empty page)."""
    ids = [int(pk) for pk in customer_ids]
    if not ids:
        return
    count = len(ids) if count is None else count
    pending = per_request(_KEY, _start_request_reads)
    if pending is None:
        write_access_log(reads=PendingReads(dict.fromkeys(ids), count), request=None, ip=None)
    else:
        pending.add(ids, count)


def _start_request_reads() -> PendingReads:
    pending = PendingReads()
    request, ip = current_request(), current_ip()
    run_after_view(lambda: write_access_log(reads=pending, request=request, ip=ip))
    return pending


def write_access_log(*, reads: PendingReads, request, ip: str | None) -> AccessLog:
    """One row: who (the request's user), which route and method, which customers."""
    user = getattr(request, "user", None)
    match = getattr(request, "resolver_match", None)
    return AccessLog.objects.create(
        actor=user if user is not None and user.is_authenticated else None,
        action=((match.view_name if match else "") or "")[:ACTION_MAX_LENGTH],
        method=getattr(request, "method", "") or "",
        customer_ids=list(reads.customer_ids),
        count=reads.count,
        ip=valid_ip(ip),
    )
