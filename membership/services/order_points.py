"""The points of an order: earned when it is recorded, taken back and given back in proportion
to its refunds."""

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from crm.i18n import in_default_language
from customers.models import Order, Refund
from membership.models import PointsEntry, PointsKind, PointsPolicy
from membership.services.locking import lock_customer
from membership.services.points import PointsChange, change_points


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
        totals = order_points(order)
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
class OrderPoints:
    earned: int
    redeemed: int
    returned: int  # redeemed points given back by refunds


def order_points(order: Order) -> OrderPoints:
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
