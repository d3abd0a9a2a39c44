"""The nightly membership run (DESIGN.md flow 2): what it does in one run, its JobRun log, its
command, its schedule in django-celery-beat, and a real Celery worker running the scheduled task
through Redis."""

import importlib
import json
from datetime import date, timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from crm.celery import app
from crm.models import JobRun
from customers.models import Customer
from membership.models import Membership, MembershipStatus, TierGrace
from membership.services import nightly
from membership.services.enrollment import enroll
from membership.services.nightly import JOB_NAME, run_nightly
from membership.services.points import adjust_points
from tests.celery_worker import celery_worker
from tests.membership.conftest import today_is

pytestmark = pytest.mark.django_db


def level_of(customer):
    return Customer.objects.values_list("level", flat=True).get(pk=customer.pk)


def in_vip_with_grace_ended(customer, today):
    Customer.objects.filter(pk=customer.pk).update(level="vip")
    TierGrace.objects.create(customer=customer, level="vip", grace_until=today - timedelta(1))


def test_one_run_expires_memberships_and_points_then_evaluates_every_tier(
    make_customer, make_user, place_order, default_tiers
):
    today = timezone.localdate()
    member, saver, spender, lapsed = (make_customer() for _ in range(4))
    enroll(
        customer_id=member.pk,
        level=default_tiers["vip"],
        duration_days=30,
        start_date=today - timedelta(days=30),
    )
    with today_is(today - timedelta(days=400)):
        adjust_points(customer_id=saver.pk, adjustment=40, reason="Welcome", actor=make_user())
    place_order(spender, "5000")  # no order hook here: the night finds the upgrade
    in_vip_with_grace_ended(lapsed, today)

    run = run_nightly(today=today)

    run.refresh_from_db()
    assert (run.name, run.status, run.error) == (JOB_NAME, JobRun.Status.DONE, "")
    assert run.finished_at >= run.started_at
    assert run.counts == {
        "memberships_expired": 1,
        "holds_released_orders": 0,
        "holds_released_points": 0,
        "points_expired_customers": 1,
        "points_expired": 40,
        "evaluated": 4,
        "upgraded": 1,
        "downgraded": 1,
        "grace_started": 1,
    }
    assert Membership.objects.get(customer=member).status == MembershipStatus.EXPIRED
    # The membership's tier is no longer held up: its grace period starts.
    assert TierGrace.objects.filter(customer=member, level="vip").exists()
    assert Customer.objects.values_list("points", flat=True).get(pk=saver.pk) == 0
    assert (level_of(spender), level_of(lapsed)) == ("vip", "regular")


def test_a_failed_run_is_logged_with_its_error_and_raised(make_customer, monkeypatch):
    make_customer()

    def fail(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(nightly, "evaluate_levels", fail)

    with pytest.raises(RuntimeError):
        run_nightly()

    run = JobRun.objects.get(name=JOB_NAME)
    assert (run.status, run.error) == (JobRun.Status.FAILED, "RuntimeError: database went away")
    assert run.counts["memberships_expired"] == 0
    assert run.finished_at is not None


def test_the_command_runs_as_of_a_given_date(make_customer, capsys):
    customer = make_customer()
    Customer.objects.filter(pk=customer.pk).update(level="vip")

    call_command("membership_nightly", "--date", "2030-01-15")

    assert TierGrace.objects.get(customer=customer).grace_until == date(2030, 2, 14)
    assert "'grace_started': 1" in capsys.readouterr().out


# --- the schedule and a real worker -------------------------------------------------------------


def test_the_migration_schedules_the_nightly_task_at_2_30_in_shanghai():
    periodic = PeriodicTask.objects.get(name="membership.nightly")
    # What a worker registers: the modules autodiscovery imports at its start.
    app.loader.import_default_modules()

    assert periodic.enabled
    assert periodic.task in app.tasks
    schedule = ModelEntry(periodic, app=app).schedule
    assert (schedule.hour, schedule.minute) == ({2}, {30})
    assert str(periodic.crontab.timezone) == "Asia/Shanghai"


@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_on_redis_runs_the_scheduled_task(make_customer, default_tiers):
    """The task of the PeriodicTask row, sent as beat sends it, goes through Redis to `celery
    worker` in another process, which runs the night against the test database."""
    # A transactional test starts with empty tables: the schedule as migration 0002 writes it.
    importlib.import_module("membership.migrations.0002_default_tiers").schedule_nightly(apps, None)
    periodic = PeriodicTask.objects.get(name="membership.nightly")
    lapsed = make_customer()
    in_vip_with_grace_ended(lapsed, timezone.localdate())

    with celery_worker() as worker:
        app.send_task(
            periodic.task,
            args=json.loads(periodic.args),
            kwargs=json.loads(periodic.kwargs),
            queue=worker.queue,
        )
        worker.wait_for(
            lambda: JobRun.objects.filter(name=JOB_NAME).exclude(status="running").exists()
        )

    run = JobRun.objects.get(name=JOB_NAME)
    assert run.status == JobRun.Status.DONE, run.error
    assert (run.counts["evaluated"], run.counts["downgraded"]) == (1, 1)
    assert level_of(lapsed) == "regular"
