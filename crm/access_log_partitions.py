"""The access log's monthly partitions (crm.models.AccessLog): created ahead, dropped after the
retention period.

The table crm_accesslog is PARTITIONED BY RANGE (occurred_at), one partition per calendar month
in UTC, named crm_accesslog_pYYYY_MM, plus a DEFAULT partition that catches rows no monthly
partition takes (should the nightly job not have run for a month), so a read is never refused
for want of a partition. The nightly job (`maintain_access_log_partitions`: Celery beat
`crm.access_log_partitions` and `manage.py access_log_partitions`) makes sure the current and the
next month exist, and drops every partition whose whole month is older than
ACCESS_LOG_RETENTION_DAYS: retention is at least that many days, at most a month more.
"""

import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection as default_connection
from django.db import transaction
from django.utils import timezone

from crm.jobs import job_run

PARENT = "crm_accesslog"
DEFAULT_PARTITION = "crm_accesslog_default"
JOB_NAME = "crm.access_log_partitions"
_MONTHLY = re.compile(r"^crm_accesslog_p(\d{4})_(\d{2})$")


def month_start(moment: datetime) -> datetime:
    """The first instant (UTC) of the month `moment` falls in."""
    moment = moment.astimezone(UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)


def partition_name(start: datetime) -> str:
    return f"{PARENT}_p{start:%Y_%m}"


def monthly_partitions(*, connection=default_connection) -> dict[str, datetime]:
    """The monthly partitions that exist, by name, with the start of their month."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT child.relname FROM pg_inherits "
            "JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
            "WHERE pg_inherits.inhparent = %s::regclass",
            [PARENT],
        )
        names = [row[0] for row in cursor.fetchall()]
    found = {}
    for name in names:
        match = _MONTHLY.match(name)
        if match:
            found[name] = datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
    return found


def create_partition(start: datetime, *, connection=default_connection) -> bool:
    """Create the partition of the month starting at `start`; False when it exists.

    Rows of that month already caught by the DEFAULT partition are moved into the new one first
    (PostgreSQL refuses to add a partition whose rows sit in the default), then it is attached;
    ATTACH creates its indexes from the parent's."""
    name = partition_name(start)
    if name in monthly_partitions(connection=connection):
        return False
    quote = connection.ops.quote_name
    lower, upper = _literal(start), _literal(next_month(start))
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {quote(name)} (LIKE {quote(PARENT)} INCLUDING DEFAULTS "
            "INCLUDING CONSTRAINTS)"
        )
        cursor.execute(
            f"WITH moved AS (DELETE FROM {quote(DEFAULT_PARTITION)} "
            f"WHERE occurred_at >= {lower} AND occurred_at < {upper} RETURNING *) "
            f"INSERT INTO {quote(name)} SELECT * FROM moved"
        )
        cursor.execute(
            f"ALTER TABLE {quote(PARENT)} ATTACH PARTITION {quote(name)} "
            f"FOR VALUES FROM ({lower}) TO ({upper})"
        )
    return True


def ensure_partitions(*, now: datetime | None = None, connection=default_connection) -> list[str]:
    """Create the partitions of the current and the next month where missing; returns the names
    created."""
    current = month_start(now or timezone.now())
    created = []
    for start in (current, next_month(current)):
        if create_partition(start, connection=connection):
            created.append(partition_name(start))
    return created


def drop_expired_partitions(
    *, now: datetime | None = None, retention_days: int | None = None
) -> tuple[list[str], int]:
    """Drop the monthly partitions whose month ended before the retention period, and delete
    the DEFAULT partition's rows older than it. Returns the names dropped and the rows deleted."""
    if retention_days is None:
        retention_days = settings.ACCESS_LOG_RETENTION_DAYS
    cutoff = (now or timezone.now()) - timedelta(days=retention_days)
    quote = default_connection.ops.quote_name
    expired = sorted(
        name for name, start in monthly_partitions().items() if next_month(start) <= cutoff
    )
    with transaction.atomic(), default_connection.cursor() as cursor:
        for name in expired:
            cursor.execute(f"DROP TABLE {quote(name)}")
        cursor.execute(f"DELETE FROM {quote(DEFAULT_PARTITION)} WHERE occurred_at < %s", [cutoff])
        deleted = cursor.rowcount
    return expired, deleted


def estimated_rows() -> int:
    """The planner's estimate of the log's rows, summed over its partitions (the parent of a
    partitioned table has no statistics of its own)."""
    with default_connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(greatest(child.reltuples, 0)), 0)::bigint FROM pg_inherits "
            "JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
            "WHERE pg_inherits.inhparent = %s::regclass",
            [PARENT],
        )
        return cursor.fetchone()[0]


def maintain_access_log_partitions(*, now: datetime | None = None):
    """The nightly job: next month's partition created ahead, expired ones dropped. Logged as a
    JobRun with the counts; returns it."""
    with job_run(JOB_NAME) as run:
        created = ensure_partitions(now=now)
        dropped, deleted = drop_expired_partitions(now=now)
        run.counts = {
            "created": len(created),
            "dropped": len(dropped),
            "defaultRowsDeleted": deleted,
        }
    return run


def _literal(moment: datetime) -> str:
    # DDL takes no bind parameters; the bound is a datetime we computed, never user input.
    return f"'{moment.astimezone(UTC).isoformat()}'::timestamptz"
