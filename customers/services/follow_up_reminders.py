"""Follow-up reminders (spec 2.5.4 支持回访提醒): each morning every owner gets one e-mail with
the follow-ups due by the end of the day, and the managers get the ones long overdue.

Both are safe to re-run: a digest is recorded per owner and day (FollowUpDigest, unique), an
escalation per follow-up (follow_up_escalated_at), each in the transaction that sends its mail,
so a failed send is retried by the next run and a second run sends nothing twice. E-mails leave
the system, so they carry names and masked phones only, never the conversation's text.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm.jobs import job_run
from crm.roles import MANAGER
from customers.models import Communication, FollowUpDigest
from customers.pii_access import shown_phone
from customers.selectors import OPEN_FOLLOW_UP, follow_up_window, follow_ups_due

JOB_NAME = "customers.follow_up_reminders"
DIGEST_ITEMS = 50
ESCALATION_BATCH = 500


def send_follow_up_digests(*, now: datetime | None = None) -> dict:
    """One e-mail to each active owner with an address and open follow-ups due by the end of
    today, unless they had today's already. Returns counts for the JobRun."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    due = Communication.objects.filter(
        OPEN_FOLLOW_UP,
        follow_up_window("by_today", now=now),
        follow_up_owner__is_active=True,
    ).exclude(follow_up_owner__email="")
    owners = (
        due.values("follow_up_owner")
        .annotate(total=Count("id"), overdue=Count("id", filter=Q(follow_up_at__lt=now)))
        .order_by("follow_up_owner")
    )
    done = set(FollowUpDigest.objects.filter(day=today).values_list("owner_id", flat=True))
    rows = [row for row in owners if row["follow_up_owner"] not in done]
    users = get_user_model().objects.in_bulk([row["follow_up_owner"] for row in rows])
    sent = 0
    with get_connection() as connection:
        for row in rows:
            with transaction.atomic():
                _digest, created = FollowUpDigest.objects.get_or_create(
                    owner_id=row["follow_up_owner"],
                    day=today,
                    defaults={"follow_ups": row["total"]},
                )
                if not created:
                    continue
                owner = users[row["follow_up_owner"]]
                _digest_message(owner, row, now=now, connection=connection).send()
            sent += 1
    return {"digests": sent, "alreadySent": len(done)}


def escalate_overdue_follow_ups(*, now: datetime | None = None) -> dict:
    """Report to the managers (active, with an e-mail address) every open follow-up more than
    FOLLOW_UP_ESCALATE_AFTER_HOURS overdue that was not reported yet, in batches. Without a
    manager to tell, nothing is marked, so the next run reports them."""
    now = now or timezone.now()
    hours = settings.FOLLOW_UP_ESCALATE_AFTER_HOURS
    managers = sorted(
        get_user_model()
        .objects.filter(is_active=True, groups__name=MANAGER)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    if not managers:
        return {"escalated": 0, "managers": 0}
    escalated = 0
    with get_connection() as connection:
        while True:
            with transaction.atomic():
                batch = list(
                    Communication.objects.filter(
                        OPEN_FOLLOW_UP,
                        follow_up_at__lt=now - timedelta(hours=hours),
                        follow_up_escalated_at__isnull=True,
                    )
                    .select_related("customer", "follow_up_owner")
                    .select_for_update(skip_locked=True, of=("self",))
                    .order_by("follow_up_at", "id")[:ESCALATION_BATCH]
                )
                if not batch:
                    break
                _escalation_message(
                    managers, batch, hours=hours, now=now, connection=connection
                ).send()
                Communication.objects.filter(pk__in=[c.pk for c in batch]).update(
                    follow_up_escalated_at=now
                )
            escalated += len(batch)
    return {"escalated": escalated, "managers": len(managers)}


def _digest_message(owner, row, *, now, connection) -> EmailMessage:
    follow_ups = _shown(follow_ups_due(owner=owner, due="by_today", now=now)[:DIGEST_ITEMS], now)
    with translation.override(settings.LANGUAGE_CODE):
        body = render_to_string(
            "customers/email/follow_up_digest.txt",
            {
                "owner": owner,
                "follow_ups": follow_ups,
                "total": row["total"],
                "overdue": row["overdue"],
                "more": row["total"] - len(follow_ups),
                "url": _url("admin:customers_communication_changelist"),
            },
        )
        subject = ngettext(
            "%(count)d follow-up due today", "%(count)d follow-ups due today", row["total"]
        ) % {"count": row["total"]}
    return EmailMessage(subject, body, to=[owner.email], connection=connection)


def _escalation_message(managers, follow_ups, *, hours, now, connection) -> EmailMessage:
    with translation.override(settings.LANGUAGE_CODE):
        body = render_to_string(
            "customers/email/follow_up_escalation.txt",
            {
                "follow_ups": _shown(follow_ups, now),
                "hours": hours,
                "url": _url("admin:customers_communication_changelist") + "?follow_up=team_overdue",
            },
        )
        subject = _("Overdue follow-ups: %(count)d") % {"count": len(follow_ups)}
    # Bcc: managers need not see each other's addresses.
    return EmailMessage(subject, body, bcc=managers, connection=connection)


def _shown(follow_ups, now) -> list[Communication]:
    shown = list(follow_ups)
    for follow_up in shown:
        follow_up.masked_phone = shown_phone(follow_up.customer.phone, reveal=False)
        follow_up.is_overdue = follow_up.follow_up_at < now
    return shown


def _url(name: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse(name)


def run_follow_up_reminders(*, now: datetime | None = None):
    """The morning job (beat row customers.follow_up_reminders): digests, then escalations."""
    with job_run(JOB_NAME) as run:
        run.counts = {
            **send_follow_up_digests(now=now),
            **escalate_overdue_follow_ups(now=now),
        }
    return run
