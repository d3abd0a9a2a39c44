"""A tier's benefits: editing them, which apply to a customer now, and recording their use
(spec 2.2.4).

Stacking: benefits that share a non-empty exclusive group do not stack, the best of them (the
highest value, then the first in the tier's order) applies; all other benefits apply together.
Applied discounts add up, capped at 100 percent off; applied points multipliers add their
bonuses (1.2 and 1.1 make 1.3).
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event
from crm.audit_actions import AuditAction
from crm.errors import BusinessError, Conflict
from customers.models import Customer, Order
from membership.models import Benefit, BenefitKind, BenefitUsage


class BenefitInUse(Conflict):
    code = "benefit_in_use"


@dataclass(frozen=True)
class AppliedBenefits:
    benefits: list[Benefit]
    discount_percent: Decimal
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


def benefits_for(level_code: str, *, on: date | None = None) -> AppliedBenefits:
    """The benefits of the tier `level_code` that apply on `on` (today), stacking resolved."""
    candidates = benefits_in_force(on).filter(level__code=level_code)
    best_of_group: dict[str, Benefit] = {}
    applied: list[Benefit] = []
    for benefit in candidates:
        group = benefit.exclusive_group
        if not group:
            applied.append(benefit)
        elif group not in best_of_group or benefit.value > best_of_group[group].value:
            best_of_group[group] = benefit
    applied.extend(best_of_group.values())
    applied.sort(key=lambda b: (b.sort_order, b.pk))
    discount = sum((b.value for b in applied if b.kind == BenefitKind.DISCOUNT), Decimal(0))
    bonus = sum(
        (b.value - 1 for b in applied if b.kind == BenefitKind.POINTS_MULTIPLIER), Decimal(0)
    )
    return AppliedBenefits(
        benefits=applied,
        discount_percent=min(discount, Decimal(100)),
        points_multiplier=max(Decimal(1) + bonus, Decimal(0)),
    )


def record_usage(
    *,
    benefit: Benefit,
    customer: Customer,
    order: Order | None = None,
    value: Decimal = Decimal(0),
    note: str = "",
    actor=None,
) -> BenefitUsage:
    """Record that `customer` used `benefit`, which must apply to them now."""
    if benefit not in benefits_for(customer.level).benefits:
        raise BusinessError(
            _("This benefit does not apply to this customer now (tier, validity or stacking)."),
            fields={"benefitId": [_("Not available to this customer.")]},
        )
    if order is not None and order.customer_id != customer.pk:
        raise BusinessError(
            _("This order belongs to another customer."),
            fields={"orderId": [_("Not this customer's order.")]},
        )
    return BenefitUsage.objects.create(
        benefit=benefit,
        customer=customer,
        order=order,
        value=value,
        note=note,
        actor=actor if actor is not None and actor.is_authenticated else None,
    )


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
