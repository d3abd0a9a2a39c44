"""The access log's monthly partitions: made by the migration for this month and the next,
created ahead and dropped after ACCESS_LOG_RETENTION_DAYS by the nightly job."""

from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone, translation
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from crm.access_log_partitions import (
    DEFAULT_PARTITION,
    JOB_NAME,
    create_partition,
    maintain_access_log_partitions,
    month_start,
    monthly_partitions,
    next_month,
    partition_name,
)
from crm.celery import app
from crm.models import AccessLog, JobRun

pytestmark = pytest.mark.django_db


def partition_of(entry: AccessLog) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM crm_accesslog WHERE id = %s", [entry.pk]
        )
        return cursor.fetchone()[0]


def log_at(moment: datetime) -> AccessLog:
    return AccessLog.objects.create(
        occurred_at=moment, action="test", method="GET", customer_ids=[1], count=1
    )


def test_the_table_is_partitioned_by_month_from_the_migration_on():
    this_month = month_start(timezone.now())

    assert set(monthly_partitions()) >= {
        partition_name(this_month),
        partition_name(next_month(this_month)),
    }
    assert partition_of(log_at(timezone.now())) == partition_name(this_month)


def test_the_retention_defaults_to_a_year():
    assert settings.ACCESS_LOG_RETENTION_DAYS == 365


def test_the_job_creates_next_months_partition_ahead_and_logs_its_run():
    later = datetime(2031, 5, 20, tzinfo=UTC)

    run = maintain_access_log_partitions(now=later)

    assert {"crm_accesslog_p2031_05", "crm_accesslog_p2031_06"} <= set(monthly_partitions())
    assert run.status == JobRun.Status.DONE
    assert run.name == JOB_NAME
    assert run.counts["created"] == 2
    # Run again the same night: nothing more to do.
    assert maintain_access_log_partitions(now=later).counts["created"] == 0


def test_the_job_drops_partitions_older_than_the_retention(settings):
    settings.ACCESS_LOG_RETENTION_DAYS = 365
    now = datetime(2031, 5, 20, tzinfo=UTC)
    for start in (datetime(2030, 4, 1, tzinfo=UTC), datetime(2030, 6, 1, tzinfo=UTC)):
        create_partition(start)
    old, kept = log_at(datetime(2030, 4, 15, tzinfo=UTC)), log_at(datetime(2030, 6, 15, tzinfo=UTC))

    run = maintain_access_log_partitions(now=now)

    partitions = set(monthly_partitions())
    # April 2030 ended more than 365 days before 20 May 2031; June 2030 did not.
    assert "crm_accesslog_p2030_04" not in partitions
    assert "crm_accesslog_p2030_06" in partitions
    assert run.counts["dropped"] >= 1
    assert not AccessLog.objects.filter(pk=old.pk).exists()
    assert AccessLog.objects.filter(pk=kept.pk).exists()


def test_rows_the_default_partition_caught_move_into_their_months_new_partition():
    moment = datetime(2032, 3, 3, tzinfo=UTC)
    caught = log_at(moment)
    assert partition_of(caught) == DEFAULT_PARTITION

    assert create_partition(month_start(moment))

    assert partition_of(caught) == "crm_accesslog_p2032_03"
    # The new partition got the parent's indexes, the GIN over customer ids among them.
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'crm_accesslog_p2032_03'")
        definitions = " ".join(row[0] for row in cursor.fetchall())
    assert "gin (customer_ids)" in definitions
    assert "(id, occurred_at)" in definitions


def test_old_rows_in_the_default_partition_are_deleted_after_the_retention():
    stray = log_at(datetime(2020, 1, 1, tzinfo=UTC))

    run = maintain_access_log_partitions(now=datetime(2031, 5, 20, tzinfo=UTC))

    assert run.counts["defaultRowsDeleted"] == 1
    assert not AccessLog.objects.filter(pk=stray.pk).exists()


def test_the_command_runs_the_job(capsys):
    with translation.override("en"):
        call_command("access_log_partitions")

    assert JobRun.objects.filter(name=JOB_NAME, status=JobRun.Status.DONE).exists()
    assert "Partitions created" in capsys.readouterr().out


def test_a_migration_schedules_the_job_nightly_in_shanghai():
    periodic = PeriodicTask.objects.get(name=JOB_NAME)
    app.loader.import_default_modules()

    assert periodic.enabled
    assert periodic.task in app.tasks
    schedule = ModelEntry(periodic, app=app).schedule
    assert (schedule.hour, schedule.minute) == ({3}, {15})
    assert str(periodic.crontab.timezone) == "Asia/Shanghai"
