"""Tables PARTITIONED BY RANGE (occurred_at), one partition per calendar month in UTC: created
ahead, dropped after a retention period. One implementation for every such table (the access
log, crm.access_log_partitions; the behaviour events, profiles.services.event_partitions).

A table `parent` has monthly partitions named `parent`_pYYYY_MM and a DEFAULT partition
`parent`_default that catches rows no monthly partition takes (should the nightly job not have
run for a month), so a write is never refused for want of a partition. The nightly job makes
sure the current and the next month exist, and drops every partition whose whole month is older
than the retention: retention is at least that many days, at most a month more. Dropping a
partition is instant and leaves no dead rows, where a DELETE of millions of rows would bloat the
table and the WAL.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection as default_connection
from django.db import transaction
from django.utils import timezone

from crm.jobs import job_run


def month_start(moment: datetime) -> datetime:
    """The first instant (UTC) of the month `moment` falls in."""
    moment = moment.astimezone(UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True)
class MonthlyPartitions:
    """The monthly partitions of the table `parent`, kept for the days the setting
    `retention_setting` names; `job_name` is the nightly job's JobRun and beat task name."""

    parent: str
    retention_setting: str
    job_name: str

    @property
    def default_partition(self) -> str:
        return f"{self.parent}_default"

    def partition_name(self, start: datetime) -> str:
        return f"{self.parent}_p{start:%Y_%m}"

    def monthly_partitions(self, *, connection=default_connection) -> dict[str, datetime]:
        """The monthly partitions that exist, by name, with the start of their month."""
        monthly = re.compile(rf"^{re.escape(self.parent)}_p(\d{{4}})_(\d{{2}})$")
        found = {}
        for name in self._children(connection):
            match = monthly.match(name)
            if match:
                found[name] = datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
        return found

    def create_partition(self, start: datetime, *, connection=default_connection) -> bool:
        """Create the partition of the month starting at `start`; False when it exists.

        Rows of that month already caught by the DEFAULT partition are moved into the new one
        first (PostgreSQL refuses to add a partition whose rows sit in the default), then it is
        attached; ATTACH creates its indexes from the parent's."""
        name = self.partition_name(start)
        if name in self.monthly_partitions(connection=connection):
            return False
        quote = connection.ops.quote_name
        lower, upper = _literal(start), _literal(next_month(start))
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE {quote(name)} (LIKE {quote(self.parent)} INCLUDING DEFAULTS "
                "INCLUDING CONSTRAINTS)"
            )
            cursor.execute(
                f"WITH moved AS (DELETE FROM {quote(self.default_partition)} "
                f"WHERE occurred_at >= {lower} AND occurred_at < {upper} RETURNING *) "
                f"INSERT INTO {quote(name)} SELECT * FROM moved"
            )
            cursor.execute(
                f"ALTER TABLE {quote(self.parent)} ATTACH PARTITION {quote(name)} "
                f"FOR VALUES FROM ({lower}) TO ({upper})"
            )
        return True

    def ensure_partitions(
        self, *, now: datetime | None = None, connection=default_connection
    ) -> list[str]:
        """Create the partitions of the current and the next month where missing; returns the
        names created."""
        current = month_start(now or timezone.now())
        created = []
        for start in (current, next_month(current)):
            if self.create_partition(start, connection=connection):
                created.append(self.partition_name(start))
        return created

    def drop_expired_partitions(
        self, *, now: datetime | None = None, retention_days: int | None = None
    ) -> tuple[list[str], int]:
        """Drop the monthly partitions whose month ended before the retention period, and
        delete the DEFAULT partition's rows older than it. Returns the names dropped and the
        rows deleted."""
        if retention_days is None:
            retention_days = getattr(settings, self.retention_setting)
        cutoff = (now or timezone.now()) - timedelta(days=retention_days)
        quote = default_connection.ops.quote_name
        expired = sorted(
            name for name, start in self.monthly_partitions().items() if next_month(start) <= cutoff
        )
        with transaction.atomic(), default_connection.cursor() as cursor:
            for name in expired:
                cursor.execute(f"DROP TABLE {quote(name)}")
            cursor.execute(
                f"DELETE FROM {quote(self.default_partition)} WHERE occurred_at < %s", [cutoff]
            )
            deleted = cursor.rowcount
        return expired, deleted

    def estimated_rows(self) -> int:
        """The planner's estimate of the table's rows, summed over its partitions (the parent of
        a partitioned table has no statistics of its own)."""
        with default_connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(sum(greatest(child.reltuples, 0)), 0)::bigint FROM pg_inherits "
                "JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
                "WHERE pg_inherits.inhparent = %s::regclass",
                [self.parent],
            )
            return cursor.fetchone()[0]

    def maintain(self, *, now: datetime | None = None):
        """The nightly job: next month's partition created ahead, expired ones dropped. Logged
        as a JobRun with the counts; returns it."""
        with job_run(self.job_name) as run:
            created = self.ensure_partitions(now=now)
            dropped, deleted = self.drop_expired_partitions(now=now)
            run.counts = {
                "created": len(created),
                "dropped": len(dropped),
                "defaultRowsDeleted": deleted,
            }
        return run

    def _children(self, connection) -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT child.relname FROM pg_inherits "
                "JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
                "WHERE pg_inherits.inhparent = %s::regclass",
                [self.parent],
            )
            return [row[0] for row in cursor.fetchall()]


def _literal(moment: datetime) -> str:
    # DDL takes no bind parameters; the bound is a datetime we computed, never user input.
    return f"'{moment.astimezone(UTC).isoformat()}'::timestamptz"
