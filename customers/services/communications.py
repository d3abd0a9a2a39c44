"""Communication records (spec 2.5.4 沟通记录): recording one, with its real time and maybe a
follow-up, and deleting one. The follow-ups' own rules (mark done, reassign, reschedule) are in
customers.services.follow_ups, the reminders in customers.services.follow_up_reminders, the reads
in customers.selectors.
"""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event
from customers.models import Communication, CommunicationChannel, Customer, Order

# How far ahead of the server's clock a recorded time may be (a phone's clock runs fast).
CLOCK_SKEW = timedelta(minutes=5)


def communication_clean(
    *,
    customer: Customer,
    channel: str,
    content: str,
    result: str,
    order: Order | None = None,
    follow_up_at: datetime | None = None,
    occurred_at: datetime | None = None,
) -> None:
    """The rules of a communication record, by field: a known channel, content and result
    written, the order (if any) the customer's own, a time it took place that is not in the
    future, and a follow-up that is not in the past.

    Raises ValidationError keyed by model field (channel, content, result, order, occurred_at,
    follow_up_at).
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
    if occurred_at is not None and occurred_at > timezone.now() + CLOCK_SKEW:
        errors["occurred_at"] = [
            _("The conversation cannot have taken place in the future; give when it happened.")
        ]
    try:
        follow_up_time_clean(follow_up_at)
    except ValidationError as error:
        errors["follow_up_at"] = error.messages
    if errors:
        raise ValidationError(errors)


def follow_up_time_clean(follow_up_at: datetime | None) -> None:
    if follow_up_at is not None and follow_up_at < timezone.now():
        raise ValidationError(
            _("The follow-up time is in the past; choose a time from now on, or leave it empty.")
        )


def communication_record(
    *,
    customer: Customer,
    actor,
    channel: str,
    content: str,
    result: str,
    order: Order | None = None,
    follow_up_at: datetime | None = None,
    occurred_at: datetime | None = None,
) -> Communication:
    """Record a conversation `actor` had with `customer` at `occurred_at` (default now);
    `actor` becomes its staff member and owns the follow-up, if one is set. Audited as "create"
    (channel and ids, never the text, which may hold personal details).

    Raises ValidationError (communication_clean).
    """
    communication_clean(
        customer=customer,
        channel=channel,
        content=content,
        result=result,
        order=order,
        follow_up_at=follow_up_at,
        occurred_at=occurred_at,
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
            occurred_at=occurred_at or timezone.now(),
            follow_up_at=follow_up_at,
            follow_up_owner=staff if follow_up_at is not None else None,
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
                "occurredAt": occurred_at,
            },
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
