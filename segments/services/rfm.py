"""RFM analysis (spec 2.3.1): score every customer who ordered in a date range, inside PostgreSQL.

For the orders placed from `start` to `end` (whole days in the site's time zone) that are not
fully refunded, each customer (archived ones aside) gets
- R: days from the last such order to `end`; F: how many; M: what they paid net of refunds
  (amount - discount - refunded amount), as the order totals on Customer count them;
- an R, F and M score from 1 to 5 by quintile of the scored customers: the quintile of the first
  position of the customer's value in the order from worst to best (recent, frequent and high
  spend score high). Equal values get the same score, so two customers with the same figures are
  never told apart; without ties this is NTILE(5);
- a weighted score, (wR * R + wF * F + wM * M) / (wR + wF + wM), and a tier from 1 (best) to
  `tiers` by the same rule over the weighted scores;
- one of the eight classes of RfmClass: R, F and M each above the run's average score, or not.

Customers without such orders are counted as unscored. A few set-based statements compute and
store everything (_score); one more reads the per-tier and per-class summary. Nothing about a
customer is loaded into Python: only the at most 125 combinations of R, F and M scores, whose
tier and class follow from their counts.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.api.pagination import planner_estimate
from crm.errors import BusinessError
from crm.jobs import job_run
from customers.conditions.fields import FIRST_DAY
from customers.models import Customer, Order
from segments.models import MAX_TIERS, MAX_WEIGHT, MIN_TIERS, RfmClass, RfmRun

JOB_NAME = "segments.rfm_run"

# (R above average, F above average, M above average) -> class.
CLASS_OF = {
    (True, True, True): RfmClass.IMPORTANT_VALUE,
    (True, False, True): RfmClass.IMPORTANT_DEVELOP,
    (False, True, True): RfmClass.IMPORTANT_KEEP,
    (False, False, True): RfmClass.IMPORTANT_RETAIN,
    (True, True, False): RfmClass.GENERAL_VALUE,
    (True, False, False): RfmClass.GENERAL_DEVELOP,
    (False, True, False): RfmClass.GENERAL_KEEP,
    (False, False, False): RfmClass.GENERAL_RETAIN,
}


class InvalidRfmParameters(BusinessError):
    code = "invalid_rfm_parameters"


@dataclass(frozen=True)
class Weights:
    r: Decimal = Decimal(1)
    f: Decimal = Decimal(1)
    m: Decimal = Decimal(1)


EQUAL_WEIGHTS = Weights()


def check_rfm_parameters(*, start: date, end: date, tiers: int, weights: Weights) -> None:
    """Raises InvalidRfmParameters (fields: start, end, tiers, weights) for a range that ends
    before it starts or after today or starts before 1900, a tier count outside 3..10, or
    weights outside 0..100 or all 0."""
    errors = {}
    today = timezone.localdate()
    if end < start:
        errors["end"] = [_("The range ends before it starts; choose an end on or after the start.")]
    elif end > today:
        errors["end"] = [_("The range ends in the future; end it today at the latest.")]
    if start < FIRST_DAY:
        errors["start"] = [_("Start the range on %(first)s or later.") % {"first": FIRST_DAY}]
    if not MIN_TIERS <= tiers <= MAX_TIERS:
        errors["tiers"] = [
            _("Choose from %(min)d to %(max)d tiers.") % {"min": MIN_TIERS, "max": MAX_TIERS}
        ]
    values = (weights.r, weights.f, weights.m)
    if any(not 0 <= value <= MAX_WEIGHT for value in values) or not any(values):
        errors["weights"] = [
            _("Each weight is from 0 to %(max)d, and at least one is above 0.")
            % {"max": MAX_WEIGHT}
        ]
    if errors:
        raise InvalidRfmParameters(next(iter(errors.values()))[0], fields=errors)


def rfm_run_create(
    *, actor, start: date, end: date, tiers: int = 5, weights: Weights = EQUAL_WEIGHTS
):
    """A pending run with checked parameters (check_rfm_parameters); rfm_run_execute computes
    it."""
    check_rfm_parameters(start=start, end=end, tiers=tiers, weights=weights)
    return RfmRun.objects.create(
        start=start,
        end=end,
        tiers=tiers,
        weight_r=weights.r,
        weight_f=weights.f,
        weight_m=weights.m,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )


def rfm_run_execute(*, run_id: int) -> RfmRun:
    """Compute a run's scores and summary. Safe to repeat: a done run is returned unchanged,
    a failed one is computed again from scratch (its partial rows are replaced). Logged as a
    JobRun; a failure marks the run failed with its error and is raised again."""
    with transaction.atomic():
        run = RfmRun.objects.select_for_update().get(pk=run_id)
        if run.status == RfmRun.Status.DONE:
            return run
        run.status, run.progress, run.error = RfmRun.Status.RUNNING, 10, ""
        run.save(update_fields=["status", "progress", "error"])
    try:
        with job_run(JOB_NAME) as job, transaction.atomic():
            _score(run)
            run.summary = _summary(run)
            run.scored = run.summary["scored"]
            run.unscored = max(Customer.objects.live().count() - run.scored, 0)
            run.status, run.progress, run.finished_at = RfmRun.Status.DONE, 100, timezone.now()
            run.save(
                update_fields=["summary", "scored", "unscored", "status", "progress", "finished_at"]
            )
            job.counts.update(run=run.pk, scored=run.scored, unscored=run.unscored)
    except Exception as error:
        RfmRun.objects.filter(pk=run.pk).update(
            status=RfmRun.Status.FAILED, error=f"{type(error).__name__}: {error}"
        )
        raise
    purge_old_scores()
    return run


def purge_old_scores(*, keep: int | None = None) -> int:
    """Delete the scores of all but the newest `keep` (RFM_RUNS_KEPT) finished runs; their
    summaries stay. Returns how many runs lost their scores."""
    keep = settings.RFM_RUNS_KEPT if keep is None else keep
    done = RfmRun.objects.filter(status=RfmRun.Status.DONE, scores_purged_at__isnull=True)
    old = list(done.order_by("-finished_at", "-id").values_list("pk", flat=True)[keep:])
    if not old:
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        for run_id in old:
            cursor.execute(f"DROP TABLE IF EXISTS {_partition(run_id)}")
        RfmRun.objects.filter(pk__in=old).update(scores_purged_at=timezone.now())
    return len(old)


def _partition(run_id: int) -> str:
    """The table holding one run's scores: a partition of segments_rfmscore (migration 0001)."""
    return f"segments_rfmscore_{int(run_id)}"


def latest_run() -> RfmRun | None:
    """The newest finished run whose scores are kept: what segments' RFM conditions read."""
    return (
        RfmRun.objects.filter(status=RfmRun.Status.DONE, scores_purged_at__isnull=True)
        .order_by("-finished_at", "-id")
        .first()
    )


def _score(run: RfmRun) -> None:
    """Four statements in the run's transaction, each set-based:

    1. each customer's figures from the range's orders, into a temporary table: the covering
       index of the orders walked in customer order, its sums streamed (CREATE TABLE AS may use
       parallel workers, which INSERT ... SELECT may not);
    2. each customer's R, F and M score: a value's rank is one more than the number of customers
       with a worse value, read from the histogram of the values (a few thousand distinct days
       and order counts) rather than from a sort of every customer;
    3. the number of customers per (R, F, M) combination, at most 125 rows, from which
       `combination_grades` derives the weighted score, the tier and the class;
    4. the scores stored, each customer joined with its combination's grades, into a table
       of the run's own, indexed once filled and attached as the run's partition of
       segments_rfmscore: a third of the time of inserting into an indexed table (mostly the
       indexes, maintained row by row), and purging a run is a DROP TABLE.
    """
    with connection.cursor() as cursor:
        # Enough memory to aggregate and hash a million customers without spilling to disk;
        # JIT compilation costs seconds here and saves nothing.
        cursor.execute(f"SET LOCAL work_mem = '{settings.BATCH_WORK_MEM}'")
        cursor.execute("SET LOCAL jit = off")
        partition = _partition(run.pk)
        cursor.execute(f"DROP TABLE IF EXISTS {partition}")  # a failed run's, computed again
        # The planner prices hashing a million customers' sums below walking the covering index
        # in customer order, which takes half the time or less (docs/performance.md): the
        # aggregation is steered to the index for this one statement.
        for plan in PLAN_FOR_FIGURES:
            cursor.execute(f"SET LOCAL {plan} = off")
        cursor.execute(
            FIGURES_SQL,
            {
                "end": run.end,
                "tz": settings.TIME_ZONE,
                "since": _midnight(run.start),
                "until": _midnight(run.end + timedelta(days=1)),
            },
        )
        for plan in PLAN_FOR_FIGURES:
            cursor.execute(f"SET LOCAL {plan} = DEFAULT")
        cursor.execute("SELECT count(*) FROM rfm_figures")
        customers = cursor.fetchone()[0]
        if customers:
            cursor.execute(SCORES_SQL, {"n": customers})
            cursor.execute(
                "SELECT r_score, f_score, m_score, count(*) FROM rfm_scores GROUP BY 1, 2, 3"
            )
            grades = combination_grades(
                {(r, f, m): count for r, f, m, count in cursor.fetchall()},
                tiers=run.tiers,
                weights=Weights(run.weight_r, run.weight_f, run.weight_m),
            )
            cursor.execute(
                f"CREATE TABLE {partition} "
                "(LIKE segments_rfmscore INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            )
            cursor.execute(STORE_SQL.format(table=partition), {"run": run.pk, **_columns(grades)})
            cursor.execute(f"ALTER TABLE {partition} ADD PRIMARY KEY (run_id, customer_id)")
            cursor.execute(f"CREATE INDEX ON {partition} (run_id, tier, score DESC, customer_id)")
            cursor.execute(
                f"ALTER TABLE segments_rfmscore ATTACH PARTITION {partition} "
                f"FOR VALUES IN ({int(run.pk)})"
            )
        # Dropped now, not at commit: a transaction may hold more than one run (a test, a job).
        cursor.execute("DROP TABLE IF EXISTS rfm_scores, rfm_figures")


def _columns(grades: dict) -> dict[str, list]:
    """The grades as one array per column, for STORE_SQL's unnest."""
    combos = list(grades)
    return {
        "r": [r for r, _f, _m in combos],
        "f": [f for _r, f, _m in combos],
        "m": [m for _r, _f, m in combos],
        "score": [grades[combo].score for combo in combos],
        "tier": [grades[combo].tier for combo in combos],
        "class": [grades[combo].rfm_class for combo in combos],
    }


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass(frozen=True)
class Grade:
    score: Decimal
    tier: int
    rfm_class: str


def combination_grades(
    counts: dict[tuple[int, int, int], int], *, tiers: int, weights: Weights
) -> dict[tuple[int, int, int], Grade]:
    """The grades of each (R, F, M) combination, given how many customers hold it: the weighted
    score (to 3 decimals), the tier by the rank of the score (1 + tiers * (rank - 1) / n, the
    rank being one more than the customers with a higher score), and the class by whether each
    score is above the average score of all customers."""
    n = sum(counts.values())
    total = weights.r + weights.f + weights.m
    scores = {
        (r, f, m): ((weights.r * r + weights.f * f + weights.m * m) / total).quantize(
            Decimal("0.001"), rounding=ROUND_HALF_UP
        )
        for r, f, m in counts
    }
    # Sums of the scores, to compare each with the average exactly: r > sum / n <=> r * n > sum.
    sums = [sum(combo[i] * count for combo, count in counts.items()) for i in range(3)]
    grades = {}
    for combo, score in scores.items():
        higher = sum(counts[other] for other, value in scores.items() if value > score)
        above = tuple(combo[i] * n > sums[i] for i in range(3))
        grades[combo] = Grade(score, 1 + tiers * higher // n, CLASS_OF[above].value)
    return grades


# The plans FIGURES_SQL must not take: a scan of the orders' heap, a hash of every customer's
# sums, or a sort of the orders. What is left is the index-only scan of
# order_customer_covering_idx in customer order, aggregated as it streams (GroupAggregate, in
# parallel): 2.9 s for a year of 10M orders where the planner's own choice took 10 s, and
# faster even for a month (1.6 s against 1.7).
PLAN_FOR_FIGURES = ("enable_seqscan", "enable_bitmapscan", "enable_hashagg", "enable_sort")

# Spend is summed in cents as bigint: the sum of numerics was most of the aggregation's time.
FIGURES_SQL = """
CREATE TEMPORARY TABLE rfm_figures ON COMMIT DROP AS
SELECT customer_id,
       %(end)s::date - (max(placed_at) AT TIME ZONE %(tz)s)::date AS recency_days,
       count(*) AS frequency,
       sum(((amount - discount - refunded_amount) * 100)::bigint) AS monetary_cents
FROM customers_order
WHERE placed_at >= %(since)s AND placed_at < %(until)s AND status <> 'refunded'
  AND customer_id NOT IN (SELECT id FROM customers_customer WHERE status = 'archived')
GROUP BY customer_id
"""


def _quintiles(column: str, worst_first: str) -> str:
    """value -> 1 + 5 * (rank - 1) / n in integer arithmetic (sum() of counts is numeric: cast),
    the rank one more than the customers whose value comes before it from the worst (equal
    values share their first position's rank)."""
    return f"""
    SELECT {column} AS value,
           1 + 5 * coalesce(sum(customers) OVER (
               ORDER BY {column} {worst_first} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
           ), 0)::bigint / %(n)s AS score
    FROM (SELECT {column}, count(*) AS customers FROM rfm_figures GROUP BY {column}) histogram
    """


SCORES_SQL = f"""
CREATE TEMPORARY TABLE rfm_scores ON COMMIT DROP AS
WITH r AS ({_quintiles("recency_days", "DESC")}),
     f AS ({_quintiles("frequency", "ASC")}),
     m AS ({_quintiles("monetary_cents", "ASC")})
SELECT figures.*, r.score AS r_score, f.score AS f_score, m.score AS m_score
FROM rfm_figures figures
JOIN r ON r.value = figures.recency_days
JOIN f ON f.value = figures.frequency
JOIN m ON m.value = figures.monetary_cents
"""

STORE_SQL = """
INSERT INTO {table}
    (run_id, customer_id, recency_days, frequency, monetary,
     r_score, f_score, m_score, score, tier, rfm_class)
SELECT %(run)s, s.customer_id, s.recency_days, s.frequency, s.monetary_cents::numeric / 100,
       s.r_score, s.f_score, s.m_score, g.score, g.tier, g.rfm_class
FROM rfm_scores s
JOIN unnest(%(r)s::int[], %(f)s::int[], %(m)s::int[], %(score)s::numeric[], %(tier)s::int[],
            %(class)s::text[]) AS g(r, f, m, score, tier, rfm_class)
  ON (g.r, g.f, g.m) = (s.r_score, s.f_score, s.m_score)
"""

SUMMARY_SQL = """
SELECT tier, rfm_class, count(*), avg(recency_days), avg(frequency), avg(monetary), sum(monetary)
FROM segments_rfmscore
WHERE run_id = %s
GROUP BY GROUPING SETS ((tier), (rfm_class))
"""


def _summary(run: RfmRun) -> dict:
    """Per tier: count, average R/F/M figures and spend; per class: count. Stored on the run,
    so that reading a run never scans its scores."""
    with connection.cursor() as cursor:
        cursor.execute(SUMMARY_SQL, [run.pk])
        rows = cursor.fetchall()
    tiers = {
        tier: {
            "tier": tier,
            "count": count,
            "avgRecencyDays": float(round(avg_r, 1)),
            "avgFrequency": float(round(avg_f, 2)),
            "avgMonetary": str(round(avg_m, 2)),
            "spend": str(spend),
        }
        for tier, rfm_class, count, avg_r, avg_f, avg_m, spend in rows
        if tier is not None
    }
    classes = {rfm_class: count for tier, rfm_class, count, *_rest in rows if tier is None}
    empty = {"count": 0, "avgRecencyDays": None, "avgFrequency": None, "avgMonetary": None}
    return {
        "scored": sum(row["count"] for row in tiers.values()),
        "spend": str(sum((Decimal(row["spend"]) for row in tiers.values()), Decimal("0"))),
        "tiers": [
            tiers.get(tier, {"tier": tier, **empty, "spend": "0"})
            for tier in range(1, run.tiers + 1)
        ],
        "classes": [
            {"class": code.value, "count": classes.get(code.value, 0)} for code in RfmClass
        ],
    }


def rfm_run_start(*, actor, start: date, end: date, tiers: int = 5, weights=EQUAL_WEIGHTS):
    """Create a run and compute it: at once when the range holds few orders (at most
    RFM_SYNC_ORDERS by the planner's estimate), else in a Celery task once the run is committed
    (its status and progress tell how far it is). Returns the run."""
    run = rfm_run_create(actor=actor, start=start, end=end, tiers=tiers, weights=weights)
    orders = Order.objects.filter(
        placed_at__gte=_midnight(start), placed_at__lt=_midnight(end + timedelta(days=1))
    )
    if planner_estimate(orders) <= settings.RFM_SYNC_ORDERS:
        return rfm_run_execute(run_id=run.pk)
    from segments.tasks import rfm_run as rfm_run_task

    transaction.on_commit(lambda: rfm_run_task.delay(run.pk))
    return run
