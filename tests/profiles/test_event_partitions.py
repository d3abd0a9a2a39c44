"""The behaviour events' monthly partitions (crm.partitions through
profiles.services.event_partitions): made by the migration, kept for
BEHAVIOUR_EVENT_RETENTION_DAYS by the nightly job."""

from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone, translation
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from crm.celery import app
from crm.models import JobRun
from crm.partitions import month_start, next_month
from profiles.models import BehaviourEvent
from profiles.services.event_partitions import EVENTS

pytestmark = pytest.mark.django_db


def event_at(customer, moment):
    return BehaviourEvent.objects.create(
        customer=customer, type="view", channel="app", device="pc", occurred_at=moment
    )


def test_the_migration_made_this_month_and_the_next():
    this_month = month_start(timezone.now())

    assert set(EVENTS.monthly_partitions()) >= {
        EVENTS.partition_name(this_month),
        EVENTS.partition_name(next_month(this_month)),
    }


def test_the_retention_defaults_to_a_year():
    assert settings.BEHAVIOUR_EVENT_RETENTION_DAYS == 365


def test_the_job_drops_expired_partitions_and_is_safe_to_run_again(settings, make_customer):
    settings.BEHAVIOUR_EVENT_RETENTION_DAYS = 365
    guest = make_customer()
    now = datetime(2031, 5, 20, tzinfo=UTC)
    for start in (datetime(2030, 4, 1, tzinfo=UTC), datetime(2030, 6, 1, tzinfo=UTC)):
        EVENTS.create_partition(start)
    old = event_at(guest, datetime(2030, 4, 15, tzinfo=UTC))
    kept = event_at(guest, datetime(2030, 6, 15, tzinfo=UTC))
    stray = event_at(guest, datetime(2020, 1, 1, tzinfo=UTC))

    run = EVENTS.maintain(now=now)

    partitions = set(EVENTS.monthly_partitions())
    assert "profiles_behaviourevent_p2030_04" not in partitions
    assert {"profiles_behaviourevent_p2030_06", "profiles_behaviourevent_p2031_06"} <= partitions
    assert (run.name, run.status) == (EVENTS.job_name, JobRun.Status.DONE)
    assert run.counts["created"] == 2
    assert run.counts["dropped"] >= 1
    assert run.counts["defaultRowsDeleted"] == 1
    remaining = set(BehaviourEvent.objects.values_list("pk", flat=True))
    assert kept.pk in remaining
    assert not {old.pk, stray.pk} & remaining

    again = EVENTS.maintain(now=now)

    assert again.counts == {"created": 0, "dropped": 0, "defaultRowsDeleted": 0}
    assert BehaviourEvent.objects.filter(pk=kept.pk).exists()


def test_the_access_log_keeps_its_own_partitions():
    # One implementation, two tables: the events' job never touches the access log's.
    from crm.access_log_partitions import ACCESS_LOG

    EVENTS.create_partition(datetime(2033, 1, 1, tzinfo=UTC))

    assert "crm_accesslog_p2033_01" not in ACCESS_LOG.monthly_partitions()
    assert "profiles_behaviourevent_p2033_01" in EVENTS.monthly_partitions()


def test_the_command_runs_the_job(capsys):
    with translation.override("en"):
        call_command("behaviour_event_partitions")

    assert JobRun.objects.filter(name=EVENTS.job_name, status=JobRun.Status.DONE).exists()
    assert "Partitions created" in capsys.readouterr().out


def test_a_migration_schedules_the_job_nightly_in_shanghai():
    periodic = PeriodicTask.objects.get(name=EVENTS.job_name)
    app.loader.import_default_modules()

    assert periodic.enabled
    assert periodic.task in app.tasks
    schedule = ModelEntry(periodic, app=app).schedule
    assert (schedule.hour, schedule.minute) == ({3}, {30})
    assert str(periodic.crontab.timezone) == "Asia/Shanghai"


def test_deleting_a_customer_deletes_their_events(make_customer):
    guest, other = make_customer(), make_customer()
    event_at(guest, timezone.now())
    kept = event_at(other, timezone.now())

    guest.delete()

    assert list(BehaviourEvent.objects.values_list("pk", flat=True)) == [kept.pk]
