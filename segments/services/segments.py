"""Segments (spec 2.3.2, 4.3): creating, changing and deleting them, previewing a condition, and
refreshing a segment's stored members with a snapshot.

A segment's customers are the live (not archived) customers that meet its condition and, when it
has a scope, its scope's condition too. Counts and previews evaluate that in one query; the
stored members (SegmentMember) are what campaigns and the customer list's `segment` filter read,
replaced set-based at each refresh: one DELETE of those who left, one INSERT of those who joined.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event
from crm.errors import BusinessError, Conflict, violated_constraint
from crm.jobs import job_run
from customers.conditions import compile_condition, normalize_condition
from customers.models import Customer
from segments.models import Segment, SegmentSnapshot
from segments.services.analysis import all_customers_portrait, portrait
from segments.services.reports import write_segment_report

PREVIEW_SAMPLE = 10
MAX_SCOPE_DEPTH = 5
REFRESH_JOB = "segments.refresh"


class ScopeCycle(BusinessError):
    code = "scope_cycle"


class SegmentInUse(Conflict):
    code = "segment_in_use"


class DuplicateSegmentName(Conflict):
    code = "duplicate_segment_name"

    def __init__(self):
        message = _("A segment with this name already exists; choose another name.")
        super().__init__(message, fields={"name": [str(message)]})


def segment_customers(segment: Segment) -> QuerySet:
    """The customers who meet the segment's condition (and its scope's) now."""
    return Customer.objects.live().filter(_segment_q(segment, depth=0))


def condition_customers(condition, *, scope: Segment | None = None) -> QuerySet:
    """The live customers who meet an unsaved condition, within `scope` when given.
    Raises InvalidCondition."""
    q = compile_condition(condition)
    if scope is not None:
        q &= _segment_q(scope, depth=1)
    return Customer.objects.live().filter(q)


def _segment_q(segment: Segment, *, depth: int) -> Q:
    q = compile_condition(segment.condition)
    if segment.scope_id is not None:
        if depth >= MAX_SCOPE_DEPTH:
            raise ScopeCycle(
                _("Segments may be nested at most %(max)d deep.") % {"max": MAX_SCOPE_DEPTH},
                fields={"scopeId": [str(_("The segments are nested too deep."))]},
            )
        q &= _segment_q(segment.scope, depth=depth + 1)
    return q


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[Customer]


def segment_preview(*, condition, scope: Segment | None = None) -> Preview:
    """How many customers an unsaved condition selects, with the first of them (newest first).
    Raises InvalidCondition naming the condition at fault."""
    customers = condition_customers(condition, scope=scope)
    return Preview(
        count=customers.count(),
        sample=list(customers.order_by("-created_at", "-id")[:PREVIEW_SAMPLE]),
    )


def segment_create(
    *, actor, name: str, condition, description: str = "", scope: Segment | None = None
) -> Segment:
    """Save a segment and count its customers; its members are stored by the refresh that
    follows on commit. Raises InvalidCondition, DuplicateSegmentName."""
    segment = Segment(
        name=name.strip(),
        description=description.strip(),
        condition=normalize_condition(condition),
        scope=scope,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    with transaction.atomic():
        _check_name(segment)
        segment._history_user = actor
        segment.customer_count = segment_customers(segment).count()
        _save(segment)
        record_event(action="create", actor=actor, obj=segment, summary={"name": segment.name})
        _refresh_on_commit(segment)
    return segment


def segment_update(*, segment: Segment, actor, changes: dict) -> Segment:
    """Change name, description, condition or scope (keys as the model's fields); a changed
    condition or scope is counted again and refreshed on commit. Raises InvalidCondition,
    DuplicateSegmentName, ScopeCycle."""
    with transaction.atomic():
        segment = Segment.objects.select_for_update().get(pk=segment.pk)
        if "condition" in changes:
            changes["condition"] = normalize_condition(changes["condition"])
        for key in ("name", "description"):
            if key in changes:
                changes[key] = changes[key].strip()
        changed = {key for key, value in changes.items() if getattr(segment, key) != value}
        if not changed:
            return segment
        for key in changed:
            setattr(segment, key, changes[key])
        if "scope" in changed:
            _check_scope(segment)
        if "name" in changed:
            _check_name(segment)
        if changed & {"condition", "scope"}:
            segment.customer_count = segment_customers(segment).count()
        segment._history_user = actor
        _save(segment)
        record_event(action="update", actor=actor, obj=segment, summary={"fields": sorted(changed)})
        if changed & {"condition", "scope"}:
            _refresh_on_commit(segment)
    return segment


def segment_delete(*, segment: Segment, actor) -> None:
    """Delete a segment with its members and snapshots. Raises SegmentInUse while other
    segments are scoped within it."""
    dependents = list(segment.subsegments.values_list("name", flat=True))
    if dependents:
        raise SegmentInUse(
            _("Other segments are within this one: %(names)s. Change or delete them first.")
            % {"names": ", ".join(dependents)}
        )
    with transaction.atomic():
        record_event(action="delete", actor=actor, obj=segment, summary={"name": segment.name})
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM segments_segmentmember WHERE segment_id = %s", [segment.pk])
        segment._history_user = actor
        segment.delete()


@dataclass(frozen=True)
class Refreshed:
    count: int
    added: int
    removed: int
    snapshot: SegmentSnapshot


def segment_refresh(*, segment_id: int) -> Refreshed:
    """Store the segment's members as its condition now selects them, and take a snapshot.
    Safe to repeat: members are replaced, not added to. Set-based: the matching customers once
    into a temporary table, then one DELETE of those who left (an anti-join) and one INSERT of
    those who joined (a set difference)."""
    with transaction.atomic():
        segment = Segment.objects.select_for_update().get(pk=segment_id)
        sql, params = segment_customers(segment).order_by().values("id").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL work_mem = '{settings.BATCH_WORK_MEM}'")
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(
                f"CREATE TEMPORARY TABLE segment_matched ON COMMIT DROP AS {sql}", params
            )
            # Temporary tables get no statistics of their own: without them the statements
            # below would be planned for a handful of rows.
            cursor.execute("ANALYZE segment_matched")
            cursor.execute(
                "DELETE FROM segments_segmentmember m WHERE m.segment_id = %s "
                "AND NOT EXISTS (SELECT 1 FROM segment_matched t WHERE t.id = m.customer_id)",
                [segment.pk],
            )
            removed = cursor.rowcount
            # EXCEPT reads the current members whole before the first row is written; an
            # anti-join planned as a loop over the members table would rescan the pages it is
            # filling (a first refresh without statistics: 75 s for 95,000 members).
            cursor.execute(
                "INSERT INTO segments_segmentmember (segment_id, customer_id, added_at) "
                "SELECT %s, joined.id, now() FROM (SELECT id FROM segment_matched EXCEPT "
                "SELECT customer_id FROM segments_segmentmember WHERE segment_id = %s) joined",
                [segment.pk, segment.pk],
            )
            added = cursor.rowcount
            cursor.execute("SELECT count(*) FROM segment_matched")
            count = cursor.fetchone()[0]
            # Dropped now, not at commit: one transaction may refresh several segments.
            cursor.execute("DROP TABLE segment_matched")
        snapshot = SegmentSnapshot.objects.create(
            segment=segment, count=count, added=added, removed=removed, stats=portrait(segment)
        )
        Segment.objects.filter(pk=segment.pk).update(
            customer_count=count, refreshed_at=timezone.now()
        )
    return Refreshed(count=count, added=added, removed=removed, snapshot=snapshot)


def refresh_all_segments(*, with_reports: bool = False) -> dict:
    """Refresh every segment (the nightly job and `manage.py refresh_segments`), logged as one
    JobRun; with `with_reports` (the nightly job) each also gets its report. A segment whose
    condition no longer holds (a tag it names was deleted) is counted as failed and the others
    still refresh; any other error fails the run."""
    with job_run(REFRESH_JOB) as run:
        run.counts.update(segments=0, failed=0, members=0)
        everyone = all_customers_portrait(fresh=True) if with_reports else None
        for segment_id in Segment.objects.order_by("pk").values_list("pk", flat=True):
            try:
                refreshed = segment_refresh(segment_id=segment_id)
            except BusinessError:
                run.counts["failed"] += 1
                continue
            if with_reports:
                write_segment_report(refreshed.snapshot, everyone=everyone)
                purge_old_reports(segment_id=segment_id)
            run.counts["segments"] += 1
            run.counts["members"] += refreshed.count
    return run.counts


def purge_old_reports(*, segment_id: int, keep: int | None = None) -> int:
    """Delete the report files of all but the segment's newest `keep` (SEGMENT_REPORTS_KEPT)
    reports; the snapshots and their figures stay. Returns how many reports went."""
    keep = settings.SEGMENT_REPORTS_KEPT if keep is None else keep
    old = SegmentSnapshot.objects.filter(segment_id=segment_id).exclude(report_pdf="")
    purged = 0
    for snapshot in old.order_by("-taken_at", "-id")[keep:]:
        snapshot.report_html.delete(save=False)
        snapshot.report_pdf.delete(save=False)
        snapshot.save(update_fields=["report_html", "report_pdf"])
        purged += 1
    return purged


def _refresh_on_commit(segment: Segment) -> None:
    from segments.tasks import refresh_segment

    transaction.on_commit(lambda: refresh_segment.delay(segment.pk))


def _save(segment: Segment) -> None:
    """Save; a name taken meanwhile by a concurrent request is the same 409 as one taken before."""
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError as error:
        if violated_constraint(error) == "segments_segment_name_key":
            raise DuplicateSegmentName() from None
        raise


def _check_name(segment: Segment) -> None:
    if Segment.objects.exclude(pk=segment.pk).filter(name=segment.name).exists():
        raise DuplicateSegmentName()


def _check_scope(segment: Segment) -> None:
    """A segment may not be within itself, directly or through others."""
    seen, scope = {segment.pk}, segment.scope
    while scope is not None:
        if scope.pk in seen:
            message = _("A segment cannot be within itself; choose another scope.")
            raise ScopeCycle(message, fields={"scopeId": [str(message)]})
        seen.add(scope.pk)
        scope = scope.scope
