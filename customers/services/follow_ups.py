"""Follow-ups (spec 2.5.4 支持回访提醒): marking one done, handing it to a colleague, moving it.

A follow-up belongs to its owner: the staff member who recorded the communication, until it is
reassigned. The owner may mark it done, move it and hand it over; so may anyone holding
customers.change_communication (a manager, or a customer-service colleague taking over). The new
owner must be an active staff member who may see communications. Every change is audited as
"update"; marking done is idempotent (a second click records no second event).
"""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event
from crm.errors import BusinessError, NotAllowed
from customers.models import Communication
from customers.services.communications import follow_up_time_clean

CHANGE_PERMISSION = "customers.change_communication"
VIEW_PERMISSION = "customers.view_communication"


class NoFollowUp(BusinessError):
    code = "no_follow_up"
    default_message = _("This communication has no follow-up.")


class FollowUpDone(BusinessError):
    code = "follow_up_done"
    default_message = _("This follow-up is done; record a new communication to follow up again.")


class NotYourFollowUp(NotAllowed):
    code = "not_your_follow_up"
    default_message = _(
        "Only the staff member who owns this follow-up, or someone allowed to change "
        "communications, may change it."
    )


class NotYourTeam(NotAllowed):
    code = "permission_denied"
    default_message = _(
        "Only staff allowed to change communications see their colleagues' follow-ups."
    )


def check_may_see_team(actor) -> None:
    """Colleagues' follow-ups are for those who may take them over."""
    if not actor.has_perm(CHANGE_PERMISSION):
        raise NotYourTeam()


def can_manage(actor, communication: Communication) -> bool:
    """Whether `actor` may mark this follow-up done, move it or hand it over."""
    if actor is None or not actor.is_authenticated:
        return False
    return communication.follow_up_owner_id == actor.pk or actor.has_perm(CHANGE_PERMISSION)


def follow_up_mark_done(*, communication: Communication, actor) -> Communication:
    """Mark the communication's follow-up done, now. Idempotent: one already done is returned
    unchanged.

    Raises NoFollowUp when it has none, NotYourFollowUp when `actor` may not manage it.
    """
    communication = _check(communication, actor)
    with transaction.atomic():
        # Locked and re-read, so that two clicks at once record one event.
        communication = Communication.objects.select_for_update().get(pk=communication.pk)
        if communication.follow_up_done_at is not None:
            return communication
        communication.follow_up_done_at = timezone.now()
        communication.save(update_fields=["follow_up_done_at"])
        record_event(
            action="update",
            actor=actor,
            obj=communication,
            summary={"customerId": communication.customer_id, "followUpDone": True},
        )
    return communication


def follow_up_change(
    *,
    communication: Communication,
    actor,
    owner=None,
    follow_up_at: datetime | None = None,
    reason: str = "",
) -> Communication:
    """Hand the open follow-up to `owner` and/or move it to `follow_up_at` (not in the past).
    A moved follow-up may be escalated again once it is overdue again.

    Raises NoFollowUp, FollowUpDone, NotYourFollowUp, or ValidationError keyed by field
    (owner, follow_up_at).
    """
    communication = _check(communication, actor)
    errors = {}
    if owner is not None and not _may_own(owner):
        errors["owner"] = [_("Choose an active staff member who may see communications.")]
    try:
        follow_up_time_clean(follow_up_at)
    except ValidationError as error:
        errors["follow_up_at"] = error.messages
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        communication = Communication.objects.select_for_update().get(pk=communication.pk)
        if communication.follow_up_done_at is not None:
            raise FollowUpDone()
        changed = {}
        if owner is not None and owner.pk != communication.follow_up_owner_id:
            changed["followUpOwner"] = {"from": communication.follow_up_owner_id, "to": owner.pk}
            communication.follow_up_owner = owner
        if follow_up_at is not None and follow_up_at != communication.follow_up_at:
            changed["followUpAt"] = {"from": communication.follow_up_at, "to": follow_up_at}
            communication.follow_up_at = follow_up_at
            communication.follow_up_escalated_at = None
        if not changed:
            return communication
        communication.save(
            update_fields=["follow_up_owner", "follow_up_at", "follow_up_escalated_at"]
        )
        record_event(
            action="update",
            actor=actor,
            obj=communication,
            summary={"customerId": communication.customer_id, **changed, "reason": reason},
        )
    return communication


def _check(communication: Communication, actor) -> Communication:
    if communication.follow_up_at is None:
        raise NoFollowUp()
    if not can_manage(actor, communication):
        raise NotYourFollowUp()
    return communication


def _may_own(user) -> bool:
    return (
        isinstance(user, get_user_model())
        and user.is_active
        and user.is_staff
        and user.has_perm(VIEW_PERMISSION)
    )
