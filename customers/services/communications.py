"""Communication records and follow-up reminders (spec 2.5.4 沟通记录, 支持回访提醒).

Who may close a follow-up: the staff member who owns it (they recorded it), or anyone holding
customers.change_communication (a manager, or a customer-service colleague taking over). Closing
is idempotent: closing a closed follow-up changes nothing and records no second event.

The reads (a customer's communications, a staff member's due follow-ups) are in
customers.selectors.
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event
from crm.errors import BusinessError, NotAllowed
from customers.models import Communication, CommunicationChannel, Customer, Order

CHANGE_PERMISSION = "customers.change_communication"


class NoFollowUp(BusinessError):
    code = "no_follow_up"
    default_message = _("This communication has no follow-up to mark done.")


class NotYourFollowUp(NotAllowed):
    code = "not_your_follow_up"
    default_message = _(
        "Only the staff member who owns this follow-up, or someone allowed to change "
        "communications, may mark it done."
    )


def communication_clean(
    *,
    customer: Customer,
    channel: str,
    content: str,
    result: str,
    order: Order | None = None,
    follow_up_at: datetime | None = None,
) -> None:
    """The rules of a communication record, by field: a known channel, content and result
    written, the order (if any) the customer's own, and a follow-up that is not in the past.

    Raises ValidationError keyed by model field (channel, content, result, order, follow_up_at).
    The admin form calls it to put the errors on its fields; communication_record calls it too.
    """
    errors = {}
    if channel not in CommunicationChannel.values:
        errors["channel"] = [_("Choose phone, online or in person.")]
    if not (content or "").strip():
        errors["content"] = [_("Write what was discussed.")]
    if not (result or "").strip():
        errors["result"] = [_("Write the result of the communication.")]
    if order is not None and order.customer_id != customer.pk:
        errors["order"] = [_("This order belongs to another customer; link one of theirs.")]
    if follow_up_at is not None and follow_up_at < timezone.now():
        errors["follow_up_at"] = [
            _("The follow-up time is in the past; choose a time from now on, or leave it empty.")
        ]
    if errors:
        raise ValidationError(errors)


def communication_record(
    *,
    customer: Customer,
    actor,
    channel: str,
    content: str,
    result: str,
    order: Order | None = None,
    follow_up_at: datetime | None = None,
) -> Communication:
    """Record a conversation `actor` had with `customer`; `actor` becomes its staff member and
    owns the follow-up, if one is set. Audited as "create" (channel and ids, never the text,
    which may hold personal details).

    Raises ValidationError (communication_clean).
    """
    communication_clean(
        customer=customer,
        channel=channel,
        content=content,
        result=result,
        order=order,
        follow_up_at=follow_up_at,
    )
    staff = actor if actor is not None and actor.is_authenticated else None
    with transaction.atomic():
        communication = Communication.objects.create(
            customer=customer,
            channel=channel,
            content=content.strip(),
            result=result.strip(),
            order=order,
            staff=staff,
            follow_up_at=follow_up_at,
        )
        record_event(
            action="create",
            actor=actor,
            obj=communication,
            summary={
                "customerId": customer.pk,
                "channel": channel,
                "orderId": order.pk if order is not None else None,
                "followUpAt": follow_up_at,
            },
        )
    return communication


def follow_up_mark_done(*, communication: Communication, actor) -> Communication:
    """Mark the communication's follow-up done, now. Idempotent: one already done is returned
    unchanged. Audited as "update".

    Raises NoFollowUp when it has none, NotYourFollowUp when `actor` neither owns it nor holds
    customers.change_communication.
    """
    if communication.follow_up_at is None:
        raise NoFollowUp()
    if not can_close(actor, communication):
        raise NotYourFollowUp()
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


def communication_delete(*, communication: Communication, actor) -> None:
    """Delete a communication record (one recorded on the wrong customer). Audited as
    "delete"."""
    with transaction.atomic():
        record_event(
            action="delete",
            actor=actor,
            obj=communication,
            summary={"customerId": communication.customer_id},
        )
        communication.delete()


def can_close(actor, communication: Communication) -> bool:
    """Whether `actor` may mark this follow-up done (see the module docstring)."""
    if actor is None or not actor.is_authenticated:
        return False
    return communication.staff_id == actor.pk or actor.has_perm(CHANGE_PERMISSION)
