"""Follow-ups beyond "mark done" (spec 2.5.4 支持回访提醒): the real time of a communication,
reassigning and rescheduling, the team's overdue list, the counts in the admin header and home
page, and the morning reminders by e-mail (digest to owners, escalation to managers)."""

from datetime import datetime, time, timedelta
from unittest.mock import patch

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from crm.models import AuditEvent, JobRun
from customers.models import Communication, FollowUpDigest
from customers.services.communications import communication_record
from customers.services.follow_up_reminders import run_follow_up_reminders
from customers.services.follow_ups import NotYourFollowUp, follow_up_change

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def midday():
    """Run each test at today's noon in the server's time zone, the clock still ticking: "due
    in an hour" is then due today whatever the hour CI runs at (at 23:30 it would be tomorrow)."""
    real_now = timezone.now
    noon = timezone.make_aware(datetime.combine(timezone.localdate(), time(12)))
    offset = noon - real_now()
    with patch("django.utils.timezone.now", side_effect=lambda: real_now() + offset):
        yield


def record(customer, staff, *, follow_up_in=None, **extra):
    follow_up_at = timezone.now() + follow_up_in if follow_up_in is not None else None
    return communication_record(
        customer=customer,
        actor=staff,
        channel="phone",
        content="问了会员积分",
        result="已解答",
        follow_up_at=follow_up_at,
        **extra,
    )


def overdue(communication, *, hours):
    """Move a follow-up into the past (the service refuses a past time, as it should)."""
    Communication.objects.filter(pk=communication.pk).update(
        follow_up_at=timezone.now() - timedelta(hours=hours)
    )


@pytest.fixture
def agent(make_user):
    return make_user("agent", roles=["customer_service"], email="agent@example.com")


@pytest.fixture
def colleague(make_user):
    return make_user("colleague", roles=["customer_service"], email="colleague@example.com")


@pytest.fixture
def boss(make_user):
    return make_user("boss", roles=["manager"], email="boss@example.com")


# --- the real time ---------------------------------------------------------------------------


def test_yesterdays_call_is_logged_with_its_time_and_listed_in_that_order(
    api_client, make_customer, agent
):
    customer = make_customer()
    yesterday = timezone.now() - timedelta(days=1)
    client = api_client(agent)
    url = f"/api/v1/customers/{customer.pk}/communications"
    today = client.post(url, {"channel": "phone", "content": "a", "result": "b"}, format="json")
    late = client.post(
        url,
        {"channel": "phone", "content": "c", "result": "d", "occurredAt": yesterday.isoformat()},
        format="json",
    )
    assert (today.status_code, late.status_code) == (201, 201)
    assert Communication.objects.get(pk=late.json()["data"]["id"]).occurred_at == yesterday
    listed = client.get(url).json()["data"]["items"]
    assert [item["id"] for item in listed] == [
        today.json()["data"]["id"],
        late.json()["data"]["id"],
    ]


def test_a_communication_in_the_future_is_refused_on_its_field(api_client, make_customer, agent):
    customer = make_customer()
    response = api_client(agent).post(
        f"/api/v1/customers/{customer.pk}/communications",
        {
            "channel": "phone",
            "content": "a",
            "result": "b",
            "occurredAt": (timezone.now() + timedelta(days=1)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 400
    assert "occurredAt" in response.json()["error"]["fields"]


# --- reassign and reschedule -----------------------------------------------------------------


def test_the_owner_hands_a_follow_up_to_a_colleague_and_moves_it(
    api_client, make_customer, agent, colleague
):
    communication = record(make_customer(), agent, follow_up_in=timedelta(days=1))
    later = timezone.now() + timedelta(days=3)
    response = api_client(agent).patch(
        f"/api/v1/follow-ups/{communication.pk}",
        {"ownerId": colleague.pk, "followUpAt": later.isoformat(), "reason": "休假"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["data"]["followUpOwner"] == "colleague"
    communication.refresh_from_db()
    assert (communication.follow_up_owner, communication.follow_up_at) == (colleague, later)
    # The conversation's staff member stays who had it.
    assert communication.staff == agent
    event = AuditEvent.objects.get(action="update", object_id=str(communication.pk))
    assert event.summary["followUpOwner"] == {"from": agent.pk, "to": colleague.pk}


def test_a_colleague_without_the_change_permission_may_not_take_it(make_customer, make_user, agent):
    marketer = make_user("m", roles=["marketing"])
    communication = record(make_customer(), agent, follow_up_in=timedelta(days=1))
    with pytest.raises(NotYourFollowUp):
        follow_up_change(communication=communication, actor=marketer, owner=marketer)


def test_reassigning_to_someone_who_cannot_see_communications_is_refused(
    make_customer, make_user, agent
):
    finance = make_user("fin", roles=["finance"])
    communication = record(make_customer(), agent, follow_up_in=timedelta(days=1))
    with pytest.raises(ValidationError) as error:
        follow_up_change(communication=communication, actor=agent, owner=finance)
    assert "owner" in error.value.message_dict


def test_rescheduling_into_the_past_is_refused(api_client, make_customer, agent):
    communication = record(make_customer(), agent, follow_up_in=timedelta(days=1))
    response = api_client(agent).patch(
        f"/api/v1/follow-ups/{communication.pk}",
        {"followUpAt": (timezone.now() - timedelta(hours=1)).isoformat()},
        format="json",
    )
    assert response.status_code == 400
    assert "followUpAt" in response.json()["error"]["fields"]


def test_the_new_owner_sees_it_in_their_list_and_may_close_it(
    api_client, make_customer, agent, colleague
):
    communication = record(make_customer(), agent, follow_up_in=timedelta(hours=1))
    follow_up_change(communication=communication, actor=agent, owner=colleague)
    mine = api_client(colleague).get("/api/v1/follow-ups").json()["data"]["items"]
    theirs = api_client(agent).get("/api/v1/follow-ups").json()["data"]["items"]
    assert ([item["id"] for item in mine], theirs) == ([str(communication.pk)], [])
    done = api_client(colleague).post(f"/api/v1/follow-ups/{communication.pk}/done")
    assert done.status_code == 200


# --- the team's list -------------------------------------------------------------------------


def test_managers_list_the_teams_overdue_follow_ups(
    api_client, make_customer, agent, colleague, boss
):
    customer = make_customer()
    late = [record(customer, staff, follow_up_in=timedelta(days=1)) for staff in (agent, colleague)]
    for communication in late:
        overdue(communication, hours=2)
    record(customer, agent, follow_up_in=timedelta(days=1))
    response = api_client(boss).get("/api/v1/follow-ups", {"due": "overdue", "owner": "all"})
    assert response.status_code == 200
    items = response.json()["data"]["items"]
    assert sorted(item["followUpOwner"] for item in items) == ["agent", "colleague"]
    one = api_client(boss).get("/api/v1/follow-ups", {"due": "overdue", "owner": agent.pk})
    assert [item["followUpOwner"] for item in one.json()["data"]["items"]] == ["agent"]


def test_staff_without_the_change_permission_see_only_their_own(api_client, make_user):
    marketer = make_user("m", roles=["marketing"])
    response = api_client(marketer).get("/api/v1/follow-ups", {"owner": "all"})
    assert response.status_code == 403


# --- the admin header and home page ----------------------------------------------------------


def test_the_admin_header_counts_the_users_due_follow_ups(client, make_customer, agent):
    customer = make_customer()
    record(customer, agent, follow_up_in=timedelta(minutes=1))
    overdue(record(customer, agent, follow_up_in=timedelta(days=1)), hours=1)
    record(customer, agent, follow_up_in=timedelta(days=3))
    client.force_login(agent)
    page = client.get("/admin/customers/customer/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "crm-header-link crm-header-urgent" in page
    assert '<span class="crm-header-count">2</span> follow-ups due' in page
    home = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en")
    card = next(c for c in home.context["dashboard_cards"] if c["key"] == "follow_ups")
    assert (card["value"], card["period"]) == (2, "1 overdue")


def test_a_manager_sees_the_teams_overdue_in_the_header(client, make_customer, agent, boss):
    overdue(record(make_customer(), agent, follow_up_in=timedelta(days=1)), hours=1)
    client.force_login(boss)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<span class="crm-header-count">1</span> overdue in the team' in page
    listed = client.get("/admin/customers/communication/", {"follow_up": "team_overdue"})
    assert len(listed.context["cl"].result_list) == 1


# --- the morning reminders -------------------------------------------------------------------


def test_each_owner_gets_one_digest_a_day_with_masked_phones_only(
    smtp_inbox, make_customer, agent, colleague
):
    customer = make_customer(name="张三", phone="13800138000")
    record(customer, agent, follow_up_in=timedelta(minutes=5))
    overdue(record(customer, agent, follow_up_in=timedelta(days=1)), hours=3)
    record(customer, colleague, follow_up_in=timedelta(days=5))  # not due today

    first = run_follow_up_reminders()
    second = run_follow_up_reminders()

    assert [message["To"] for message in smtp_inbox.messages] == ["agent@example.com"]
    body = smtp_inbox.bodies()[0]
    assert "张三" in body and "138****8000" in body and "13800138000" not in body
    assert "问了会员积分" not in body
    assert first.counts["digests"] == 1 and second.counts["digests"] == 0
    assert FollowUpDigest.objects.get().follow_ups == 2


def test_long_overdue_follow_ups_are_escalated_to_managers_once(
    smtp_inbox, make_customer, agent, boss, settings
):
    settings.FOLLOW_UP_ESCALATE_AFTER_HOURS = 24
    customer = make_customer(name="李四")
    stale = record(customer, agent, follow_up_in=timedelta(days=1))
    overdue(stale, hours=30)
    fresh = record(customer, agent, follow_up_in=timedelta(days=1))
    overdue(fresh, hours=2)
    agent.email = ""  # no digest: only the escalation is looked at here
    agent.save()

    run_follow_up_reminders()
    run_follow_up_reminders()

    assert [message.recipients for message in smtp_inbox.messages] == [["boss@example.com"]]
    assert "李四" in smtp_inbox.bodies()[0] and "agent" in smtp_inbox.bodies()[0]
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.follow_up_escalated_at is not None and fresh.follow_up_escalated_at is None


def test_a_failed_send_is_retried_by_the_next_run(settings, make_customer, agent, smtp_inbox):
    record(make_customer(), agent, follow_up_in=timedelta(minutes=5))
    settings.EMAIL_PORT = 1  # nothing listens there
    with pytest.raises(OSError):
        run_follow_up_reminders()
    assert JobRun.objects.get().status == "failed"
    assert not FollowUpDigest.objects.exists()
    settings.EMAIL_PORT = smtp_inbox.port
    run_follow_up_reminders()
    assert len(smtp_inbox.messages) == 1


def test_the_reminders_are_scheduled_and_have_a_command(capsys):
    task = PeriodicTask.objects.get(name="customers.follow_up_reminders")
    assert (task.task, task.crontab.hour, task.crontab.timezone.key) == (
        "customers.follow_up_reminders",
        "8",
        "Asia/Shanghai",
    )
    call_command("send_follow_up_reminders")
    assert "customers.follow_up_reminders" in capsys.readouterr().out


def test_the_admin_action_reassigns_selected_follow_ups(
    client, make_customer, agent, colleague, boss
):
    customer = make_customer()
    selected = [record(customer, agent, follow_up_in=timedelta(days=1)) for _ in range(2)]
    client.force_login(boss)
    data = {
        "action": "change_follow_ups",
        "_selected_action": [c.pk for c in selected],
        "owner": colleague.pk,
        "apply": "1",
    }
    page = client.post("/admin/customers/communication/?follow_up=all", data)
    assert page.status_code == 302
    owners = set(Communication.objects.values_list("follow_up_owner__username", flat=True))
    assert owners == {"colleague"}
    assert (
        AuditEvent.objects.filter(action="update", object_type="customers.communication").count()
        == 2
    )
