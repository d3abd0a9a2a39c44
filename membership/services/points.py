"""The points ledger (spec 2.2.5): every change is a PointsEntry, `Customer.points` follows it.

Invariants, held by every function here and by the tests:
- `Customer.points` == the sum of the customer's `delta` == the sum of `remaining` of their lots;
- the balance never goes below zero (a check constraint backs this up);
- a positive entry is a lot that expires on `expires_on`; a negative one consumes the open lots
  first in, first out (earliest expiry first, lots without expiry last).

Each change locks the customer row (SELECT ... FOR UPDATE) for its transaction, so concurrent
changes of one customer queue up and each sees the balance the previous one left; the ids of
one customer's entries therefore follow the order in which they were made.
"""

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event
from crm.errors import BusinessError, violated_constraint
from crm.i18n import in_default_language
from crm.idempotency import IdempotencyKeyReused, fingerprint
from customers.models import Customer, Order, Refund
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
            earlier = _earlier_change(idempotency_key, request_fingerprint)
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
class Redemption:
    change: PointsChange
    deduction: Decimal  # yuan off the order


@dataclass(frozen=True)
class OrderRef:
    """An order by the ordering system's reference, recorded or not yet."""

    source: str
    external_id: str


def redeem_points(
    *,
    customer_id: int,
    points: int,
    order_amount: Decimal | None = None,
    order: Order | None = None,
    order_ref: OrderRef | None = None,
    actor=None,
    idempotency_key: str | None = None,
    field: str = "points",
) -> Redemption:
    """Pay part of an order with points (spec 支持积分抵扣订单): `points` are worth
    points / points_per_yuan_redeemed yuan. What is paid with points on one order is at most
    max_redeem_share percent of its paid amount, counting every redemption on it.

    The order is `order`, or the one `order_ref` names once recorded. For an order not recorded
    yet, the redemption is held against `order_ref` with the cap taken on `order_amount`; recording
    the order links what is held to it (link_held_redemptions), so that its refund returns them.
    A repeat with the same idempotency key returns the first redemption, even once the order's
    cap is reached."""
    policy = PointsPolicy.current()
    if points <= 0:
        raise BusinessError(
            _("Redeem a positive number of points."), fields={field: [_("Must be above 0.")]}
        )
    if order_ref is not None and not order_ref.source:
        raise BusinessError(
            _("Give the order's system (orderSource) with its external id."),
            fields={"orderSource": [_("Required with orderExternalId.")]},
        )
    if order is None and order_ref is not None:
        order = Order.objects.filter(
            source=order_ref.source, external_id=order_ref.external_id
        ).first()
    if order is not None and order.customer_id != customer_id:
        raise BusinessError(
            _("This order belongs to another customer."),
            fields={"orderId": [_("Not this customer's order.")]},
        )
    if order is None and (order_amount is None or order_ref is None):
        raise BusinessError(
            _(
                "Give the recorded order (orderId), or the order's reference (orderSource, "
                "orderExternalId) and its amount (orderAmount)."
            ),
            fields={
                "orderExternalId" if order_amount is not None else "orderAmount": [
                    _("Required without orderId.")
                ]
            },
        )
    deduction = (Decimal(points) / policy.points_per_yuan_redeemed).quantize(
        Decimal("0.01"), ROUND_DOWN
    )
    key = f"redeem:{idempotency_key}" if idempotency_key else None
    request_fingerprint = fingerprint(
        customer=customer_id,
        points=points,
        order=order and order.pk,
        ref=order_ref and [order_ref.source, order_ref.external_id],
        amount=order_amount,
    )
    with transaction.atomic():
        # The cap depends on the order's refunds and redemptions: they queue on this lock too.
        lock_customer(customer_id)
        if not (key and _earlier_change(key, request_fingerprint)):
            if order is None:
                _check_hold(customer_id, points, policy=policy, ref=order_ref, amount=order_amount)
            else:
                _check_redemption_cap(points, policy=policy, order=order, field=field)
        change = change_points(
            customer_id=customer_id,
            delta=-points,
            kind=PointsKind.REDEEM,
            reason=in_default_language(
                _("Redeemed for %(amount)s yuan off an order"), amount=deduction
            ),
            actor=actor,
            order=order,
            idempotency_key=key,
            request_fingerprint=request_fingerprint,
            field=field,
        )
        if order is None and not change.repeated:
            PointsEntry.objects.filter(pk=change.entry.pk).update(
                held_source=order_ref.source, held_external_id=order_ref.external_id
            )
        if not change.repeated:
            record_event(
                action=MembershipAuditAction.POINTS_REDEEM,
                actor=actor,
                obj=change.entry,
                summary={
                    "customer": customer_id,
                    "points": points,
                    "deduction": str(deduction),
                    "order": order and order.pk,
                    "held_for": None
                    if order is not None
                    else [order_ref.source, order_ref.external_id],
                },
            )
    return Redemption(change=change, deduction=deduction)


def _holds(ref: OrderRef, *, customer_id: int, refusal: BusinessError):
    """The entries held for the order `ref` and not linked to it yet, and the points they hold.
    The points of one order are one customer's: `refusal` is raised when another customer's are
    held for it."""
    held = PointsEntry.objects.filter(
        held_source=ref.source, held_external_id=ref.external_id, order__isnull=True
    )
    if held.exclude(customer_id=customer_id).exists():
        raise refusal
    return held, -(held.aggregate(total=Coalesce(Sum("delta"), 0))["total"])


def _check_hold(customer_id, points, *, policy, ref: OrderRef, amount: Decimal) -> None:
    _entries, used = _holds(
        ref,
        customer_id=customer_id,
        refusal=BusinessError(
            _("Points of another customer are already held for this order."),
            fields={"orderExternalId": [_("Held for another customer.")]},
        ),
    )
    _check_cap(points, amount, used, policy=policy, field="points")


def _check_redemption_cap(points, *, policy, order, field) -> None:
    order = Order.objects.only("amount", "discount", "refunded_amount").get(pk=order.pk)
    totals = _order_points(order)
    _check_cap(
        points,
        order.amount - order.discount - order.refunded_amount,
        totals.redeemed - totals.returned,
        policy=policy,
        field=field,
    )


def _check_cap(points, amount: Decimal, used: int, *, policy, field) -> None:
    """Refuse `points` more when, with the `used` ones, they pass the policy's share of
    `amount` (points=0: refuse when the used ones already pass it)."""
    cap = (amount * policy.max_redeem_share / 100).quantize(Decimal("0.01"), ROUND_DOWN)
    cap_points = int(cap * policy.points_per_yuan_redeemed)
    if used + points > cap_points:
        message = _(
            "At most %(share)s%% of this order may be paid with points: %(max)s points at most."
        ) % {
            "share": policy.max_redeem_share,
            "max": max(cap_points - used, 0) if points else cap_points,
        }
        raise BusinessError(message, fields={field: [str(message)]})


def link_held_redemptions(*, order: Order, customer: Customer) -> None:
    """Recording an order (a "recording" hook, inside its transaction): the points held for it
    are linked to it, and its pointsUsed is that redemption. pointsUsed without holds redeems
    them now, within the cap; pointsUsed that differs from what is held, holds of another
    customer, or holds above the recorded order's cap reject the order (BusinessError)."""
    held, held_points = _holds(
        OrderRef(order.source, order.external_id),
        customer_id=customer.pk,
        refusal=BusinessError(
            _("Points of another customer were redeemed for this order."),
            fields={"customerId": [_("Not the customer the points were held for.")]},
        ),
    )
    if not held_points:
        if order.points_used:
            redeem_points(
                customer_id=customer.pk,
                points=order.points_used,
                order=order,
                idempotency_key=f"order:{order.pk}",
                field="pointsUsed",
            )
        return
    if order.points_used and order.points_used != held_points:
        message = _(
            "%(held)s points were redeemed for this order, not %(used)s: send pointsUsed "
            "%(held)s, or leave it out."
        ) % {"held": held_points, "used": order.points_used}
        raise BusinessError(message, fields={"pointsUsed": [str(message)]})
    policy = PointsPolicy.current()
    _check_cap(0, order.amount - order.discount, held_points, policy=policy, field="pointsUsed")
    held.update(order=order)
    Order.objects.filter(pk=order.pk).update(points_used=held_points)
    order.points_used = held_points


def release_held_points(*, ref: OrderRef, actor=None) -> int:
    """Give back the points held for an order that will not be recorded (the guest left, the
    ordering system cancelled it): the held points return in one entry, the holds end, and the
    order, should it be recorded later, finds none. Returns the points released; a second call
    releases nothing. Audited."""
    held = PointsEntry.objects.filter(
        held_source=ref.source, held_external_id=ref.external_id, order__isnull=True
    )
    released = 0
    # One customer's, as redeem_points holds them; each is released under its own lock.
    for customer_id in sorted(set(held.values_list("customer_id", flat=True))):
        with transaction.atomic():
            # Under the lock the order cannot be recorded meanwhile: what is held stays held.
            lock_customer(customer_id)
            entries = list(held.filter(customer_id=customer_id).values_list("pk", "delta"))
            if not entries:
                continue
            points = -sum(delta for _pk, delta in entries)
            PointsEntry.objects.filter(pk__in=[pk for pk, _delta in entries]).update(
                held_source="", held_external_id=""
            )
            change = change_points(
                customer_id=customer_id,
                delta=points,
                kind=PointsKind.RELEASE,
                reason=in_default_language(
                    _("Points held for order %(order)s released"),
                    order=f"{ref.source}/{ref.external_id}",
                ),
                actor=actor,
                idempotency_key=f"release:{min(pk for pk, _delta in entries)}",
            )
            record_event(
                action=MembershipAuditAction.POINTS_RELEASE,
                actor=actor,
                obj=change.entry,
                summary={
                    "customer": customer_id,
                    "points": points,
                    "held_for": [ref.source, ref.external_id],
                },
            )
            released += points
    return released


def release_stale_holds(*, now=None) -> tuple[int, int]:
    """The holds of orders not recorded within POINTS_HOLD_HOURS are released (the nightly run).
    Returns how many orders' holds and how many points."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.POINTS_HOLD_HOURS)
    stale = (
        # The partial index of holds (held_external_id <> '') finds them.
        PointsEntry.objects.filter(order__isnull=True, created_at__lt=cutoff)
        .exclude(held_external_id="")
        .values_list("held_source", "held_external_id")
        .distinct()
    )
    orders = points = 0
    for source, external_id in list(stale):
        released = release_held_points(ref=OrderRef(source, external_id))
        orders += released > 0
        points += released
    return orders, points


def earn_for_order(*, order: Order, multiplier: Decimal) -> PointsChange | None:
    """The points an order earns: what was paid times the rate times the tier's multiplier,
    rounded down. Idempotent per order."""
    policy = PointsPolicy.current()
    paid = order.amount - order.discount
    points = int((paid * policy.earn_per_yuan * multiplier).to_integral_value(ROUND_DOWN))
    if points <= 0:
        return None
    return change_points(
        customer_id=order.customer_id,
        delta=points,
        kind=PointsKind.EARN,
        reason=in_default_language(_("Order %(order)s"), order=order.external_id),
        order=order,
        idempotency_key=f"earn:{order.pk}",
    )


def reverse_for_refund(*, order: Order, refund: Refund) -> list[PointsChange]:
    """A refund takes back the share of the order's earned points that it refunds, and gives
    back the same share of the points redeemed on it. A refund's share runs from what the
    order's earlier refunds refunded to what it refunds with them, so several partial refunds add
    up to exactly the whole, whichever of their hooks runs first. Points already spent cannot be
    taken back: the balance stops at zero, the reason says how many stay spent, and a later
    refund takes only its own share."""
    paid = order.amount - order.discount
    earlier = Refund.objects.filter(order_id=order.pk, pk__lt=refund.pk).aggregate(
        total=Coalesce(Sum("amount"), Decimal(0))
    )["total"]
    share_before = min(Decimal(1), earlier / paid)
    share_after = min(Decimal(1), (earlier + refund.amount) / paid)
    changes = []
    with transaction.atomic():
        customer = lock_customer(order.customer_id, "points")
        totals = _order_points(order)
        due_back = _floor(totals.earned * share_after) - _floor(totals.earned * share_before)
        taken_back = min(due_back, customer.points)
        if taken_back > 0:
            if taken_back < due_back:
                reason = _(
                    "Refund of order %(order)s: earned points taken back, "
                    "except %(spent)s already spent"
                )
            else:
                reason = _("Refund of order %(order)s: earned points taken back")
            changes.append(
                change_points(
                    customer_id=order.customer_id,
                    delta=-taken_back,
                    kind=PointsKind.REFUND,
                    reason=in_default_language(
                        reason, order=order.external_id, spent=due_back - taken_back
                    ),
                    order=order,
                    idempotency_key=f"refund-earned:{refund.pk}",
                )
            )
        # Redemptions may follow a partial refund: what is due counts all of them.
        due_out = _floor(totals.redeemed * share_after) - totals.returned
        if due_out > 0:
            changes.append(
                change_points(
                    customer_id=order.customer_id,
                    delta=due_out,
                    kind=PointsKind.REFUND,
                    reason=in_default_language(
                        _("Refund of order %(order)s: redeemed points returned"),
                        order=order.external_id,
                    ),
                    order=order,
                    idempotency_key=f"refund-redeemed:{refund.pk}",
                )
            )
    return changes


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


def _earlier_change(key: str, request_fingerprint: str) -> PointsChange | None:
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


@dataclass(frozen=True)
class OrderPoints:
    earned: int
    redeemed: int
    returned: int  # redeemed points given back by refunds


def _order_points(order: Order) -> OrderPoints:
    totals = PointsEntry.objects.filter(order=order).aggregate(
        earned=Coalesce(Sum("delta", filter=Q(kind=PointsKind.EARN)), 0),
        redeemed=Coalesce(Sum("delta", filter=Q(kind=PointsKind.REDEEM)), 0),
        returned=Coalesce(Sum("delta", filter=Q(kind=PointsKind.REFUND, delta__gt=0)), 0),
    )
    return OrderPoints(
        earned=totals["earned"], redeemed=-totals["redeemed"], returned=totals["returned"]
    )


def _floor(points: Decimal) -> int:
    return int(points.to_integral_value(ROUND_DOWN))
