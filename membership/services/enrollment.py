"""Memberships (spec 2.2.2): enrolment, batch enrolment, cancellation and nightly expiry.

A membership grants its tier for a period: from `start_date` (inclusive) to `end_date`
(exclusive; 365 days from 2025-01-20 ends on 2026-01-20). While it is active the customer is at
least in its tier (membership.services.tiers treats it as a floor). When it ends, the customer's
tier follows the rules again, grace period included.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.utils import bulk_update_with_history

from crm.audit import record_event
from crm.errors import BusinessError, Conflict, NotFound
from crm.i18n import in_default_language
from crm.models import AuditAction
from customers.models import CustomerStatus
from membership.models import (
    ChangeKind,
    EnrollMethod,
    Membership,
    MembershipLevel,
    MembershipStatus,
)
from membership.services.levels import set_level
from membership.services.locking import lock_customer
from membership.services.tiers import evaluate_levels

MAX_DURATION_DAYS = 3650
MAX_BATCH = 10_000


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


def enroll(
    *,
    customer_id: int,
    level: MembershipLevel,
    duration_days: int,
    method: str = EnrollMethod.SYSTEM,
    source: str = "",
    actor=None,
    start_date: date | None = None,
) -> Membership:
    """Enrol a customer in `level` for `duration_days` from `start_date` (today). Refused with
    AlreadyMember (409) when they have an active membership. A tier above the customer's
    current one takes effect at once; audited."""
    _check_duration(duration_days)
    if method not in EnrollMethod.values:
        raise BusinessError(
            _("Unknown enrolment method."), fields={"method": [_("Use purchase, gift or system.")]}
        )
    start = start_date or timezone.localdate()
    with transaction.atomic():
        customer = lock_customer(customer_id, "level", "status", "customer_no")
        if customer.status == CustomerStatus.ARCHIVED:
            raise BusinessError(
                _("This customer is archived; restore them before enrolling."),
                fields={"customerId": [_("Archived customer.")]},
            )
        active = Membership.objects.filter(
            customer_id=customer_id, status=MembershipStatus.ACTIVE
        ).first()
        if active is not None:
            raise AlreadyMember(active.end_date)
        membership = Membership(
            customer_id=customer_id,
            level=level,
            start_date=start,
            end_date=start + timedelta(days=duration_days),
            method=method,
            source=source[:64],
            actor=actor if actor is not None and actor.is_authenticated else None,
        )
        try:
            with transaction.atomic():
                membership.save()
        except IntegrityError:
            # Another enrolment of the same customer committed between our check and insert.
            raise AlreadyMember(membership.end_date) from None
        current = MembershipLevel.objects.filter(code=customer.level).first()
        higher = current is None or level.sort_order > current.sort_order
        if higher and start <= timezone.localdate():
            set_level(
                customer=customer,
                level_code=level.code,
                kind=ChangeKind.MANUAL if actor is not None else ChangeKind.AUTOMATIC,
                reason=in_default_language(
                    _("Enrolled (%(method)s) for %(days)s days"),
                    method=EnrollMethod(method).label,
                    days=duration_days,
                ),
                actor=actor,
            )
        record_event(
            action=AuditAction.ENROLL,
            actor=actor,
            obj=membership,
            summary={
                "customer": customer_id,
                "level": level.code,
                "days": duration_days,
                "method": method,
                "source": source,
            },
        )
    return membership


@dataclass
class BatchEnrolment:
    enrolled: list[Membership] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"customerId", "code", "message"}


def enroll_batch(
    *,
    customer_ids: list[int],
    level: MembershipLevel,
    duration_days: int,
    method: str = EnrollMethod.SYSTEM,
    source: str = "",
    actor=None,
) -> BatchEnrolment:
    """Enrol each customer on its own (one failure does not undo the others) and report who
    was skipped and why."""
    _check_duration(duration_days)
    ids = list(dict.fromkeys(customer_ids))
    if len(ids) > MAX_BATCH:
        raise BusinessError(
            _("At most %(max)s customers can be enrolled at once; narrow the selection.")
            % {"max": MAX_BATCH}
        )
    result = BatchEnrolment()
    for customer_id in ids:
        try:
            result.enrolled.append(
                enroll(
                    customer_id=customer_id,
                    level=level,
                    duration_days=duration_days,
                    method=method,
                    source=source,
                    actor=actor,
                )
            )
        except (BusinessError, NotFound) as error:
            result.skipped.append(
                {"customerId": str(customer_id), "code": error.code, "message": str(error.message)}
            )
    return result


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


def _check_duration(duration_days: int) -> None:
    if not 1 <= duration_days <= MAX_DURATION_DAYS:
        raise BusinessError(
            _("The duration must be between 1 and %(max)s days.") % {"max": MAX_DURATION_DAYS},
            fields={"duration": [_("Out of range.")]},
        )
