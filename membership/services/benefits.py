"""A tier's benefits: editing them, which apply to a customer now, and recording their use
(spec 2.2.4).

Stacking: benefits that share a non-empty exclusive group do not stack: the one worth most to the
guest on the order at hand applies (benefit_worth), ties going to the higher figure, then to the
first in the tier's order. All other benefits apply together. Applied discounts add up, capped at
100 percent off; amounts off add up, capped at the order's amount; applied points multipliers add
their bonuses (1.2 and 1.1 make 1.3).

Using a benefit: a benefit with a usage limit may be used that many times per period (day,
calendar month, calendar year, or membership term); a use is idempotent by its key, audited, and
reversed (no longer counted) when the order it was used on is refunded in full.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event
from crm.audit_actions import AuditAction
from crm.errors import BusinessError, Conflict, violated_constraint
from crm.idempotency import IdempotencyKeyReused, fingerprint
from customers.models import Customer, Order
from membership.audit_actions import MembershipAuditAction
from membership.models import (
    Benefit,
    BenefitKind,
    BenefitUsage,
    Membership,
    MembershipStatus,
    PointsPolicy,
    UsagePeriod,
)
from membership.services.locking import lock_customer

IDEMPOTENCY_CONSTRAINT = "membership_benefitusage_idempotency_key_key"


class BenefitInUse(Conflict):
    code = "benefit_in_use"


@dataclass(frozen=True)
class AppliedBenefits:
    benefits: list[Benefit]
    discount_percent: Decimal
    amount_off: Decimal
    points_multiplier: Decimal


def benefits_in_force(on: date | None = None):
    """Active benefits whose validity window (both days included) holds `on` (today), in
    their tier's order; before stacking."""
    on = on or timezone.localdate()
    return Benefit.objects.filter(
        Q(valid_from__isnull=True) | Q(valid_from__lte=on),
        Q(valid_until__isnull=True) | Q(valid_until__gte=on),
        is_active=True,
    ).order_by("sort_order", "id")


def benefits_for(level_code: str, *, amount: Decimal, on: date | None = None) -> AppliedBenefits:
    """The benefits of the tier `level_code` that apply on `on` (today) to an order of `amount`
    yuan, stacking resolved."""
    candidates = benefits_in_force(on).filter(level__code=level_code)
    groups: dict[str, list[Benefit]] = {}
    applied: list[Benefit] = []
    for benefit in candidates:
        if benefit.exclusive_group:
            groups.setdefault(benefit.exclusive_group, []).append(benefit)
        else:
            applied.append(benefit)
    policy = cache(PointsPolicy.current)  # read only if a points multiplier must be valued
    applied.extend(best_of_group(group, amount, policy) for group in groups.values())
    applied.sort(key=lambda b: (b.sort_order, b.pk))
    discount = sum((b.value for b in applied if b.kind == BenefitKind.DISCOUNT), Decimal(0))
    amount_off = sum((b.value for b in applied if b.kind == BenefitKind.AMOUNT_OFF), Decimal(0))
    bonus = sum(
        (b.value - 1 for b in applied if b.kind == BenefitKind.POINTS_MULTIPLIER), Decimal(0)
    )
    return AppliedBenefits(
        benefits=applied,
        discount_percent=min(discount, Decimal(100)),
        amount_off=min(amount_off, amount),
        points_multiplier=max(Decimal(1) + bonus, Decimal(0)),
    )


def customer_benefits(
    customer: Customer, *, order_amount: Decimal | None = None, on: date | None = None
) -> AppliedBenefits:
    """benefits_for the customer's tier, valued on `order_amount`; without one, on the
    customer's average order: what they usually spend is what a benefit is worth to them."""
    amount = customer.avg_order_value if order_amount is None else order_amount
    return benefits_for(customer.level, amount=amount, on=on)


def benefit_worth(
    benefit: Benefit, amount: Decimal, policy: Callable[[], PointsPolicy] = PointsPolicy.current
) -> Decimal:
    """What `benefit` is worth to the guest, in yuan, on an order of `amount` yuan: a discount
    its percentage of the amount, an amount off its value up to the amount, a points multiplier
    the bonus points the amount earns at the points policy's redemption rate. The other kinds
    (gift, service, treat) are not priced by the order: their value is what staff say the item
    is worth in yuan, zero when they gave none."""
    if benefit.kind == BenefitKind.DISCOUNT:
        return amount * min(benefit.value, Decimal(100)) / 100
    if benefit.kind == BenefitKind.AMOUNT_OFF:
        return min(benefit.value, amount)
    if benefit.kind == BenefitKind.POINTS_MULTIPLIER:
        rules = policy()
        bonus_points = amount * rules.earn_per_yuan * max(benefit.value - 1, Decimal(0))
        return bonus_points / rules.points_per_yuan_redeemed
    return benefit.value


def best_of_group(
    benefits: list[Benefit],
    amount: Decimal,
    policy: Callable[[], PointsPolicy] = PointsPolicy.current,
) -> Benefit:
    """The one of `benefits` (an exclusive group, in the tier's order) that applies on an order
    of `amount` yuan: the one worth most. Equal worth (on an amount of 0: a customer without
    orders yet) goes to the higher figure, which picks the bigger of two discounts; a full tie
    to the first in the tier's order."""
    if len(benefits) == 1:
        return benefits[0]  # nothing to compare: no valuation, no read of the points policy
    return max(
        benefits, key=lambda benefit: (benefit_worth(benefit, amount, policy), benefit.value)
    )


class UsageLimitReached(BusinessError):
    code = "benefit_usage_limit_reached"


@dataclass(frozen=True)
class BenefitUse:
    usage: BenefitUsage
    repeated: bool  # True when an earlier request with the same idempotency key recorded it


def record_usage(
    *,
    benefit: Benefit,
    customer: Customer,
    order: Order | None = None,
    value: Decimal = Decimal(0),
    note: str = "",
    actor=None,
    idempotency_key: str | None = None,
) -> BenefitUse:
    """Record that `customer` used `benefit`, which must apply to them now and have uses left
    in its period (UsageLimitReached). With an idempotency key that an earlier use took, nothing
    is recorded and that use is returned (`repeated`), unless it was for a different request
    (IdempotencyKeyReused). Audited."""
    if order is not None and order.customer_id != customer.pk:
        raise BusinessError(
            _("This order belongs to another customer."),
            fields={"orderId": [_("Not this customer's order.")]},
        )
    key = f"benefit:{idempotency_key}" if idempotency_key else None
    request_fingerprint = fingerprint(
        benefit=benefit.pk, customer=customer.pk, order=order and order.pk, value=value, note=note
    )
    with transaction.atomic():
        # Uses of one customer queue here, so that two at once cannot both take the last one.
        lock_customer(customer.pk)
        if key:
            earlier = BenefitUsage.objects.filter(idempotency_key=key).first()
            if earlier is not None:
                if earlier.request_fingerprint != request_fingerprint:
                    raise IdempotencyKeyReused()
                return BenefitUse(usage=earlier, repeated=True)
        order_amount = order.amount if order is not None else None
        if benefit not in customer_benefits(customer, order_amount=order_amount).benefits:
            raise BusinessError(
                _("This benefit does not apply to this customer now (tier, validity or stacking)."),
                fields={"benefitId": [_("Not available to this customer.")]},
            )
        _check_usage_limit(benefit, customer)
        usage = BenefitUsage(
            benefit=benefit,
            customer=customer,
            order=order,
            value=value,
            note=note,
            actor=actor if actor is not None and actor.is_authenticated else None,
            idempotency_key=key,
            request_fingerprint=request_fingerprint,
        )
        try:
            with transaction.atomic():
                usage.save()
        except IntegrityError as error:
            # Uses of one customer queue on its lock: the key was taken for another customer.
            if violated_constraint(error) == IDEMPOTENCY_CONSTRAINT:
                raise IdempotencyKeyReused() from error
            raise
        record_event(
            action=MembershipAuditAction.BENEFIT_USE,
            actor=actor,
            obj=usage,
            summary={
                "customer": customer.pk,
                "benefit": benefit.pk,
                "order": order and order.pk,
                "value": value,
            },
        )
    return BenefitUse(usage=usage, repeated=False)


def _check_usage_limit(benefit: Benefit, customer: Customer) -> None:
    if benefit.usage_limit is None:
        return
    since = period_start(benefit.usage_period, customer)
    counted = BenefitUsage.objects.filter(
        benefit=benefit, customer=customer, reversed_at__isnull=True
    )
    if since is not None:
        counted = counted.filter(used_at__gte=since)
    if counted.count() >= benefit.usage_limit:
        message = _(
            "This benefit may be used %(limit)s times %(period)s; this customer has used it up."
        ) % {"limit": benefit.usage_limit, "period": UsagePeriod(benefit.usage_period).label}
        raise UsageLimitReached(message, fields={"benefitId": [str(message)]})


def period_start(period: str, customer: Customer) -> datetime | None:
    """When the current period of a usage limit began: today, the month, the year (local time),
    or the active membership's start. None (the limit counts every use) for the term of a
    customer without an active membership: their tier has no term."""
    today = timezone.localdate()
    if period == UsagePeriod.TERM:
        start = (
            Membership.objects.filter(customer=customer, status=MembershipStatus.ACTIVE)
            .values_list("start_date", flat=True)
            .first()
        )
        if start is None:
            return None
    elif period == UsagePeriod.YEAR:
        start = today.replace(month=1, day=1)
    elif period == UsagePeriod.MONTH:
        start = today.replace(day=1)
    else:
        start = today
    return timezone.make_aware(datetime.combine(start, time.min))


def reverse_usages_for_refund(*, order: Order) -> int:
    """An order refunded in full gives back the benefits used on it: their uses stop counting
    towards the limits. Audited; running it again changes nothing."""
    paid = order.amount - order.discount
    order.refresh_from_db(fields=["refunded_amount"])
    if order.refunded_amount < paid:
        return 0
    with transaction.atomic():
        usages = list(
            BenefitUsage.objects.select_for_update().filter(order=order, reversed_at__isnull=True)
        )
        now = timezone.now()
        for usage in usages:
            usage.reversed_at = now
            record_event(
                action=MembershipAuditAction.BENEFIT_REVERSAL,
                actor=None,
                obj=usage,
                summary={"customer": usage.customer_id, "order": order.pk},
            )
        BenefitUsage.objects.bulk_update(usages, ["reversed_at"])
    return len(usages)


def save_benefit(*, benefit: Benefit, actor) -> Benefit:
    """Create or update a benefit of a tier; audited. The table's check constraints are checked
    first, so that a violation names the field to fix instead of the constraint."""
    errors = {}
    if benefit.kind == BenefitKind.DISCOUNT and benefit.value > 100:
        errors["value"] = [_("A discount is at most 100 percent.")]
    if benefit.valid_from and benefit.valid_until and benefit.valid_until < benefit.valid_from:
        errors["valid_until"] = [_("The benefit must end on or after the day it starts.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        created = benefit.pk is None
        benefit.full_clean()
        benefit.save()
        record_event(
            action=AuditAction.CREATE if created else AuditAction.UPDATE, actor=actor, obj=benefit
        )
    return benefit


def delete_benefit(*, benefit: Benefit, actor) -> None:
    """Delete a benefit nobody has used; a used one keeps its usage records traceable, so it is
    refused (deactivate it instead)."""
    with transaction.atomic():
        used = BenefitUsage.objects.filter(benefit=benefit).count()
        if used:
            raise BenefitInUse(
                _(
                    "This benefit was used %(count)s times and its usage records refer to it; "
                    "deactivate it instead of deleting it."
                )
                % {"count": used}
            )
        record_event(action=AuditAction.DELETE, actor=actor, obj=benefit)
        benefit.delete()
