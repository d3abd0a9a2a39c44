"""Paying with points (spec 支持积分抵扣订单): redemptions capped per order, held against an
order not recorded yet, linked when it is recorded, and released when it never is."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event
from crm.errors import BusinessError
from crm.i18n import in_default_language
from crm.idempotency import fingerprint
from customers.models import Customer, Order
from membership.audit_actions import MembershipAuditAction
from membership.models import PointsEntry, PointsKind, PointsPolicy
from membership.services.locking import lock_customer
from membership.services.order_points import order_points
from membership.services.points import PointsChange, change_points, earlier_change


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
        if not (key and earlier_change(key, request_fingerprint)):
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
    totals = order_points(order)
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
