"""The points ledger (spec 2.2.5): every change is a PointsEntry, `Customer.points` follows it.

Invariants, held by every function here and by the tests:
- `Customer.points` == the sum of the customer's `delta` == the sum of `remaining` of their lots;
- the balance never goes below zero (a check constraint backs this up);
- a positive entry is a lot that expires on `expires_on`; a negative one consumes the open lots
  first in, first out (earliest expiry first, lots without expiry last).

Each change locks the customer row (SELECT ... FOR UPDATE) for its transaction, so concurrent
changes of one customer queue up and each sees the balance the previous one left; the ids of
one customer's entries therefore follow the order in which they were made.

Paying with points is membership.services.redemption; an order's points (earned, taken and
given back on refunds), membership.services.order_points. Both change the ledger through
change_points alone.
"""

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event
from crm.errors import BusinessError, violated_constraint
from crm.i18n import in_default_language
from crm.idempotency import IdempotencyKeyReused, fingerprint
from customers.models import Customer, Order
from membership.audit_actions import MembershipAuditAction
from membership.models import PointsEntry, PointsKind, PointsPolicy
from membership.services.locking import lock_customer

IDEMPOTENCY_CONSTRAINT = "membership_pointsentry_idempotency_key_key"


class NotEnoughPoints(BusinessError):
    code = "not_enough_points"

    def __init__(self, *, balance: int, field: str):
        message = _("Only %(balance)s points are available; ask for at most that many.") % {
            "balance": balance
        }
        super().__init__(message, fields={field: [str(message)]})


@dataclass(frozen=True)
class PointsChange:
    entry: PointsEntry
    repeated: bool  # True when an earlier request with the same idempotency key made the entry


def expiry_date(earned_on: date, months: int | None) -> date | None:
    """The last day earned points are valid: the end of the `months`-th month after the month
    they were earned in (12: points earned on 2025-01-20 last until 2026-01-31)."""
    if months is None:
        return None
    month_index = earned_on.year * 12 + earned_on.month - 1 + months
    year, month = divmod(month_index, 12)
    return date(year, month + 1, calendar.monthrange(year, month + 1)[1])


def change_points(
    *,
    customer_id: int,
    delta: int,
    kind: str,
    reason: str,
    actor=None,
    order: Order | None = None,
    idempotency_key: str | None = None,
    request_fingerprint: str = "",
    field: str = "adjustment",
) -> PointsChange:
    """Add `delta` points (negative to take) and write the ledger entry.

    With an idempotency key that an earlier change used, nothing is applied and that change is
    returned (`repeated`), unless it was made for a different request (IdempotencyKeyReused).
    Taking more than the balance raises NotEnoughPoints naming `field`.
    """
    if delta == 0:
        raise BusinessError(_("The change must not be zero."), fields={field: [_("Not zero.")]})
    with transaction.atomic():
        customer = lock_customer(customer_id, "points")
        if idempotency_key:
            earlier = earlier_change(idempotency_key, request_fingerprint)
            if earlier:
                return earlier
        if delta < 0 and -delta > customer.points:
            raise NotEnoughPoints(balance=customer.points, field=field)
        entry = PointsEntry(
            customer_id=customer_id,
            delta=delta,
            kind=kind,
            reason=reason[:200],
            order=order,
            actor=actor if actor is not None and actor.is_authenticated else None,
            idempotency_key=idempotency_key or None,
            request_fingerprint=request_fingerprint,
            balance_after=customer.points + delta,
        )
        if delta > 0:
            entry.remaining = delta
            entry.expires_on = expiry_date(
                timezone.localdate(), PointsPolicy.current().expiry_months
            )
        try:
            entry.save()
        except IntegrityError as error:
            # Requests of one customer queue on its lock, so a key taken meanwhile was taken by
            # a request for another customer: a different request.
            if violated_constraint(error) == IDEMPOTENCY_CONSTRAINT:
                raise IdempotencyKeyReused() from error
            raise
        if delta < 0:
            _consume_lots(customer_id, -delta)
        Customer.objects.filter(pk=customer_id).update(points=entry.balance_after)
    return PointsChange(entry=entry, repeated=False)


def adjust_points(
    *,
    customer_id: int,
    adjustment: int,
    reason: str,
    actor,
    idempotency_key: str | None = None,
) -> PointsChange:
    """A staff adjustment (spec 4.2 points/adjust); audited."""
    key = f"adjust:{idempotency_key}" if idempotency_key else None
    result = change_points(
        customer_id=customer_id,
        delta=adjustment,
        kind=PointsKind.ADJUST,
        reason=reason,
        actor=actor,
        idempotency_key=key,
        request_fingerprint=fingerprint(customer=customer_id, delta=adjustment, reason=reason),
    )
    if not result.repeated:
        record_event(
            action=MembershipAuditAction.POINTS_ADJUST,
            actor=actor,
            obj=result.entry,
            summary={"customer": customer_id, "adjustment": adjustment, "reason": reason},
        )
    return result


@dataclass(frozen=True)
class ExpiryResult:
    customers: int
    points: int


def expire_points(*, today: date | None = None, batch: int = 5000) -> ExpiryResult:
    """Expire every lot whose last valid day is before `today`: one `expire` entry per customer
    for what is left of those lots. Set-based: one index scan finds the customers, then each
    batch of them is one transaction; running it again the same day finds nothing to expire."""
    today = today or timezone.localdate()
    reason = in_default_language(_("Points expired"))
    with connection.cursor() as cursor:
        cursor.execute(_EXPIRING_CUSTOMERS_SQL, [today])
        ids = [row[0] for row in cursor.fetchall()]
    customers = points = 0
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        with transaction.atomic(), connection.cursor() as cursor:
            # Customers first, in id order, like change_points: no deadlock with a concurrent
            # change of one of them, which may also have spent the lots meanwhile.
            cursor.execute(
                "SELECT id FROM customers_customer WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                [chunk],
            )
            cursor.execute(_EXPIRE_SQL, {"ids": chunk, "today": today, "reason": reason})
            rows = cursor.fetchall()
        customers += len(rows)
        points += sum(row[1] for row in rows)
    return ExpiryResult(customers=customers, points=points)


_EXPIRING_CUSTOMERS_SQL = """
SELECT DISTINCT customer_id FROM membership_pointsentry
WHERE remaining > 0 AND expires_on < %s
ORDER BY customer_id
"""

# No idempotency key: a rerun finds the lots already cleared, and a key by date would clash
# when a run for a future date (membership_nightly --date) precedes that date's own run.
# clock_timestamp(): the entry is made after the locks were granted, later than changes that
# held them (now() is when the transaction began).
_EXPIRE_SQL = """
WITH lots AS (
    SELECT id, customer_id, remaining FROM membership_pointsentry
    WHERE remaining > 0 AND expires_on < %(today)s AND customer_id = ANY(%(ids)s)
), cleared AS (
    UPDATE membership_pointsentry e SET remaining = 0 FROM lots WHERE e.id = lots.id
), due AS (
    SELECT customer_id, sum(remaining)::integer AS points FROM lots GROUP BY customer_id
), customers AS (
    UPDATE customers_customer c SET points = c.points - due.points
    FROM due WHERE c.id = due.customer_id
    RETURNING c.id, due.points, c.points AS balance
), entries AS (
    INSERT INTO membership_pointsentry
        (customer_id, delta, kind, reason, request_fingerprint, balance_after, remaining,
         created_at)
    SELECT id, -points, 'expire', %(reason)s, '', balance, 0, clock_timestamp()
    FROM customers
)
SELECT id, points FROM customers
"""


@dataclass(frozen=True)
class PointsSummary:
    balance: int
    expiring_soon: int
    expiring_by: date


def points_summary(customer: Customer) -> PointsSummary:
    """The balance and how many of those points expire within the policy's warning window."""
    policy = PointsPolicy.current()
    by = timezone.localdate() + timedelta(days=policy.expiring_soon_days)
    soon = PointsEntry.objects.filter(
        customer=customer, remaining__gt=0, expires_on__lte=by
    ).aggregate(total=Sum("remaining"))["total"]
    return PointsSummary(balance=customer.points, expiring_soon=soon or 0, expiring_by=by)


def earlier_change(key: str, request_fingerprint: str) -> PointsChange | None:
    earlier = PointsEntry.objects.filter(idempotency_key=key).first()
    if earlier is None:
        return None
    if earlier.request_fingerprint != request_fingerprint:
        raise IdempotencyKeyReused()
    return PointsChange(entry=earlier, repeated=True)


def _consume_lots(customer_id: int, points: int) -> None:
    """Take `points` from the customer's open lots, earliest expiry first (lots without expiry
    last, as NULLs sort), in one UPDATE: each lot gives what the lots before it left to take."""
    with connection.cursor() as cursor:
        cursor.execute(_CONSUME_SQL, {"customer": customer_id, "points": points})


_CONSUME_SQL = """
UPDATE membership_pointsentry e
SET remaining = e.remaining - LEAST(e.remaining, %(points)s - lots.before)
FROM (
    SELECT id, sum(remaining) OVER (ORDER BY expires_on, id) - remaining AS before
    FROM membership_pointsentry
    WHERE customer_id = %(customer)s AND remaining > 0
) lots
WHERE e.id = lots.id AND lots.before < %(points)s
"""
