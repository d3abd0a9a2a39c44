"""Memberships (spec 2.2.2): enrolment, batch enrolment, renewal, cancellation and nightly
expiry.

A membership grants its tier for a period: from `start_date` (inclusive) to `end_date`
(exclusive; 365 days from 2025-01-20 ends on 2026-01-20). While it is active the customer is at
least in its tier (membership.services.tiers treats it as a floor). When it ends, the customer's
tier follows the rules again, grace period included.

A renewal extends the active membership from its end date, so the time left is kept. An
enrolment or renewal paid for names what paid (an order or a payment reference, a
MembershipPurchase); each pays once, so a retry answers the first result instead of adding days
again.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from crm.audit import record_event, record_events
from crm.audit_actions import AuditAction
from crm.errors import BusinessError, Conflict, NotFound
from crm.i18n import in_default_language
from customers.models import Customer, CustomerStatus, Order
from membership.audit_actions import MembershipAuditAction
from membership.models import (
    ChangeKind,
    EnrollMethod,
    Membership,
    MembershipLevel,
    MembershipPurchase,
    MembershipStatus,
)
from membership.services.levels import set_levels
from membership.services.locking import lock_customer
from membership.services.tiers import evaluate_levels

MAX_DURATION_DAYS = 3650
MAX_BATCH = 50_000


class AlreadyMember(Conflict):
    code = "already_member"

    def __init__(self, end_date: date):
        super().__init__(
            _(
                "This customer already has an active membership until %(end)s; cancel it or "
                "wait for it to end before enrolling again."
            )
            % {"end": end_date.isoformat()}
        )


class PaymentAlreadyUsed(Conflict):
    code = "payment_already_used"
    default_message = _(
        "This order or payment reference already paid for another membership change; "
        "a payment pays once."
    )


@dataclass(frozen=True)
class Payment:
    """What paid for an enrolment or renewal: an order, a payment reference, or both."""

    order: Order | None = None
    reference: str | None = None

    def __bool__(self):
        return self.order is not None or bool(self.reference)

    def earlier_purchase(self) -> MembershipPurchase | None:
        if self.order is not None:
            found = MembershipPurchase.objects.filter(order=self.order).first()
            if found is not None:
                return found
        if self.reference:
            return MembershipPurchase.objects.filter(payment_reference=self.reference).first()
        return None


def enroll(
    *,
    customer_id: int,
    level: MembershipLevel,
    duration_days: int,
    method: str = EnrollMethod.SYSTEM,
    source: str = "",
    actor=None,
    start_date: date | None = None,
    payment: Payment | None = None,
) -> Membership:
    """Enrol a customer in `level` for `duration_days` from `start_date` (today). Refused with
    AlreadyMember (409) when they have an active membership. A tier above the customer's
    current one takes effect at once; audited. A payment that already paid for this very
    enrolment returns it (a retry); one that paid for something else is PaymentAlreadyUsed."""
    _check_options(duration_days, method)
    payment = payment or Payment()
    with transaction.atomic():
        customer = lock_customer(customer_id, "level", "status", "customer_no")
        earlier = payment.earlier_purchase() if payment else None
        if earlier is not None:
            if (
                earlier.membership.customer_id == customer_id
                and earlier.membership.level_id == level.pk
                and earlier.days == duration_days
            ):
                return earlier.membership
            raise PaymentAlreadyUsed()
        if customer.status == CustomerStatus.ARCHIVED:
            raise _archived()
        _check_payment(payment, customer_id)
        active = Membership.objects.filter(
            customer_id=customer_id, status=MembershipStatus.ACTIVE
        ).first()
        if active is not None:
            raise AlreadyMember(active.end_date)
        [membership] = _create_memberships(
            [customer],
            level=level,
            start=start_date or timezone.localdate(),
            duration_days=duration_days,
            method=method,
            source=source,
            actor=actor,
        )
        _record_purchase(membership, duration_days, payment, actor)
    return membership


@dataclass
class BatchEnrolment:
    enrolled: list[Membership] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"customerId", "code", "message"}

    def skip(self, customer_id: int, error: BusinessError) -> None:
        self.skipped.append(
            {"customerId": str(customer_id), "code": error.code, "message": str(error.message)}
        )


def enroll_batch(
    *,
    customer_ids: list[int],
    level: MembershipLevel,
    duration_days: int,
    method: str = EnrollMethod.SYSTEM,
    source: str = "",
    actor=None,
    chunk: int = 1000,
) -> BatchEnrolment:
    """Enrol many customers with the rules of `enroll`, set-based: per chunk of customers one
    transaction of a few statements. A customer that cannot be enrolled (unknown, archived,
    already a member) is skipped with the reason, and does not stop the others."""
    _check_options(duration_days, method)
    ids = list(dict.fromkeys(customer_ids))
    if len(ids) > MAX_BATCH:
        raise BusinessError(
            _("At most %(max)s customers can be enrolled at once; narrow the selection.")
            % {"max": MAX_BATCH}
        )
    result = BatchEnrolment()
    start = timezone.localdate()
    for offset in range(0, len(ids), chunk):
        part = ids[offset : offset + chunk]
        with transaction.atomic():
            found = {
                customer.pk: customer
                for customer in Customer.objects.select_for_update()
                .filter(pk__in=part)
                .order_by("pk")
                .only("id", "level", "status", "customer_no")
            }
            active = dict(
                Membership.objects.filter(
                    customer_id__in=list(found), status=MembershipStatus.ACTIVE
                ).values_list("customer_id", "end_date")
            )
            eligible = []
            for customer_id in part:
                customer = found.get(customer_id)
                if customer is None:
                    result.skip(customer_id, NotFound(_("No customer with this id.")))
                elif customer.status == CustomerStatus.ARCHIVED:
                    result.skip(customer_id, _archived())
                elif customer_id in active:
                    result.skip(customer_id, AlreadyMember(active[customer_id]))
                else:
                    eligible.append(customer)
            result.enrolled += _create_memberships(
                eligible,
                level=level,
                start=start,
                duration_days=duration_days,
                method=method,
                source=source,
                actor=actor,
            )
    return result


def _create_memberships(
    customers, *, level, start, duration_days, method, source, actor
) -> list[Membership]:
    """Memberships (with their history and audit events) for locked customers that have none
    active; the tier of those below `level` is raised at once."""
    if not customers:
        return []
    staff = actor if actor is not None and actor.is_authenticated else None
    memberships = bulk_create_with_history(
        [
            Membership(
                customer_id=customer.pk,
                level=level,
                start_date=start,
                end_date=start + timedelta(days=duration_days),
                method=method,
                source=source[:64],
                actor=staff,
            )
            for customer in customers
        ],
        Membership,
        default_user=staff,
    )
    ranks = dict(MembershipLevel.objects.values_list("code", "sort_order"))
    lower = [c for c in customers if ranks.get(c.level, -1) < level.sort_order]
    if lower and start <= timezone.localdate():
        set_levels(
            customers=lower,
            level_code=level.code,
            kind=ChangeKind.MANUAL if staff is not None else ChangeKind.AUTOMATIC,
            reason=in_default_language(
                _("Enrolled (%(method)s) for %(days)s days"),
                method=EnrollMethod(method).label,
                days=duration_days,
            ),
            actor=staff,
        )
    record_events(
        action=MembershipAuditAction.ENROLL,
        actor=actor,
        objects=memberships,
        summary={"level": level.code, "days": duration_days, "method": method, "source": source},
    )
    return memberships


def renew_membership(
    *,
    membership: Membership,
    duration_days: int,
    method: str = EnrollMethod.PURCHASE,
    payment: Payment | None = None,
    actor=None,
) -> Membership:
    """Extend an active membership by `duration_days` from its end date: the time left is kept.
    With a payment that already paid for this very renewal, nothing changes (a retry); one that
    paid for something else is refused (PaymentAlreadyUsed). Audited."""
    _check_options(duration_days, method)
    payment = payment or Payment()
    with transaction.atomic():
        lock_customer(membership.customer_id)
        membership.refresh_from_db()
        earlier = payment.earlier_purchase() if payment else None
        if earlier is not None:
            if earlier.membership_id == membership.pk and earlier.days == duration_days:
                return membership
            raise PaymentAlreadyUsed()
        if membership.status != MembershipStatus.ACTIVE:
            raise BusinessError(
                _("Only an active membership can be renewed; enrol the customer again."),
                fields={"membershipId": [_("Not active.")]},
            )
        _check_payment(payment, membership.customer_id)
        old_end = membership.end_date
        membership.end_date = old_end + timedelta(days=duration_days)
        membership._change_reason = in_default_language(
            _("Renewed (%(method)s) for %(days)s days"),
            method=EnrollMethod(method).label,
            days=duration_days,
        )
        membership.save(update_fields=["end_date", "updated_at"])
        _record_purchase(membership, duration_days, payment, actor)
        record_event(
            action=MembershipAuditAction.RENEW,
            actor=actor,
            obj=membership,
            summary={
                "days": duration_days,
                "method": method,
                "from": old_end,
                "to": membership.end_date,
                "order": payment.order and payment.order.pk,
                "paymentReference": payment.reference,
            },
        )
    return membership


def _check_payment(payment: Payment, customer_id: int) -> None:
    if payment.order is not None and payment.order.customer_id != customer_id:
        raise BusinessError(
            _("This order belongs to another customer."),
            fields={"orderId": [_("Not this customer's order.")]},
        )


def _record_purchase(membership, days, payment: Payment, actor) -> None:
    if not payment:
        return
    try:
        with transaction.atomic():
            MembershipPurchase.objects.create(
                membership=membership,
                days=days,
                order=payment.order,
                payment_reference=payment.reference or None,
                actor=actor if actor is not None and actor.is_authenticated else None,
            )
    except IntegrityError as error:
        # Taken meanwhile by a change of another customer (one customer's changes queue).
        raise PaymentAlreadyUsed() from error


def cancel_membership(*, membership: Membership, reason: str, actor) -> Membership:
    """End an active membership now; the customer's tier then follows the rules (a downgrade
    still waits out the tier's grace period)."""
    with transaction.atomic():
        lock_customer(membership.customer_id, "level")
        membership.refresh_from_db()
        if membership.status != MembershipStatus.ACTIVE:
            raise BusinessError(_("Only an active membership can be cancelled."))
        membership.status = MembershipStatus.CANCELLED
        membership._change_reason = reason
        membership.save(update_fields=["status", "updated_at"])
        record_event(
            action=AuditAction.UPDATE,
            actor=actor,
            obj=membership,
            summary={"status": MembershipStatus.CANCELLED, "reason": reason},
        )
    evaluate_levels(customer_ids=[membership.customer_id])
    return membership


def expire_memberships(*, today: date | None = None) -> int:
    """Mark every active membership that has reached its end date as expired, with a history
    record each, as every other change of a membership has."""
    today = today or timezone.localdate()
    now = timezone.now()
    with transaction.atomic():
        ending = list(
            Membership.objects.select_for_update().filter(
                status=MembershipStatus.ACTIVE, end_date__lte=today
            )
        )
        for membership in ending:
            membership.status = MembershipStatus.EXPIRED
            membership.updated_at = now
        bulk_update_with_history(
            ending, Membership, ["status", "updated_at"], batch_size=1000, default_date=now
        )
    return len(ending)


def _archived() -> BusinessError:
    return BusinessError(
        _("This customer is archived; restore them before enrolling."),
        fields={"customerId": [_("Archived customer.")]},
    )


def _check_options(duration_days: int, method: str) -> None:
    if method not in EnrollMethod.values:
        raise BusinessError(
            _("Unknown enrolment method."), fields={"method": [_("Use purchase, gift or system.")]}
        )
    if not 1 <= duration_days <= MAX_DURATION_DAYS:
        raise BusinessError(
            _("The duration must be between 1 and %(max)s days.") % {"max": MAX_DURATION_DAYS},
            fields={"duration": [_("Out of range.")]},
        )
