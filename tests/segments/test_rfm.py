"""RFM analysis (spec 2.3.1): scores, tiers and classes computed in PostgreSQL, checked by hand
on a small data set and against a brute-force reading of the rules on random ones."""

import itertools
import json
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.errors import BusinessError
from crm.models import JobRun
from customers.services import customer_create
from segments.models import RfmClass, RfmRun, RfmScore
from segments.services.rfm import (
    CLASS_OF,
    EQUAL_WEIGHTS,
    FIGURES_SQL,
    JOB_NAME,
    PLAN_FOR_FIGURES,
    Weights,
    latest_run,
    purge_old_scores,
    rfm_run_create,
    rfm_run_execute,
)
from tests.segments.conftest import order_on

pytestmark = pytest.mark.django_db

START, END = date(2025, 1, 1), date(2025, 3, 31)


def run_rfm(*, tiers=3, weights=EQUAL_WEIGHTS, start=START, end=END):
    run = rfm_run_create(actor=None, start=start, end=end, tiers=tiers, weights=weights)
    return rfm_run_execute(run_id=run.pk)


def scores_of(run) -> dict[int, tuple]:
    return {
        score.customer_id: (
            score.recency_days,
            score.frequency,
            score.monetary,
            score.r_score,
            score.f_score,
            score.m_score,
            score.tier,
            score.rfm_class,
        )
        for score in RfmScore.objects.filter(run=run)
    }


def test_scores_tiers_and_classes_match_the_hand_computed_figures(shop):
    run = run_rfm(tiers=3)

    a, b, c, d = (shop[key].pk for key in "abcd")
    # R: C (70 days) is worst, then D (44), then A and B tied (1 day): 1 + 5 * (rank - 1) / 4.
    # F: B and D tied lowest (1), then C (2), A (3). M: B and D tied (50), A (600), C (2000).
    # Weighted (equal): A 10/3, C 8/3, B 5/3, D 4/3 -> tiers 1 + 3 * (rank - 1) / 4.
    assert scores_of(run) == {
        a: (1, 3, Decimal("600.00"), 3, 4, 3, 1, RfmClass.IMPORTANT_VALUE),
        b: (1, 1, Decimal("50.00"), 3, 1, 1, 2, RfmClass.GENERAL_DEVELOP),
        c: (70, 2, Decimal("2000.00"), 1, 3, 4, 1, RfmClass.IMPORTANT_KEEP),
        d: (44, 1, Decimal("50.00"), 2, 1, 1, 3, RfmClass.GENERAL_RETAIN),
    }
    assert RfmScore.objects.get(run=run, customer_id=a).score == Decimal("3.333")


def test_customers_without_orders_in_the_range_are_counted_apart_and_archived_ones_not_at_all(
    shop,
):
    run = run_rfm()

    # E (only a fully refunded order in the range), F (after it) and G (no orders); H is archived.
    assert (run.status, run.scored, run.unscored) == (RfmRun.Status.DONE, 4, 3)
    assert shop["h"].pk not in scores_of(run)


def test_the_summary_gives_each_tier_its_figures_and_the_counts_sum_to_the_scored(shop):
    run = run_rfm(tiers=3)

    tiers = run.summary["tiers"]
    assert [tier["count"] for tier in tiers] == [2, 1, 1]
    assert sum(tier["count"] for tier in tiers) == run.scored
    assert tiers[0] == {
        "tier": 1,
        "count": 2,
        "avgRecencyDays": 35.5,
        "avgFrequency": 2.5,
        "avgMonetary": "1300.00",
        "spend": "2600.00",
    }
    assert run.summary["spend"] == "2700.00"
    classes = {row["class"]: row["count"] for row in run.summary["classes"]}
    assert set(classes) == set(RfmClass.values)
    assert sum(classes.values()) == run.scored
    assert classes[RfmClass.IMPORTANT_VALUE] == 1


def test_a_tier_without_customers_is_listed_with_a_count_of_zero(shop):
    run = run_rfm(tiers=10)

    assert len(run.summary["tiers"]) == 10
    assert sum(tier["count"] for tier in run.summary["tiers"]) == 4
    assert {tier["count"] for tier in run.summary["tiers"]} == {0, 1}


def test_weights_change_the_ranking(shop):
    balanced = run_rfm(tiers=3)
    spend_only = run_rfm(tiers=3, weights=Weights(r=Decimal(0), f=Decimal(0), m=Decimal(1)))

    def ranking(run):
        rows = RfmScore.objects.filter(run=run).order_by("-score", "customer_id")
        return [row.customer_id for row in rows]

    a, b, c, d = (shop[key].pk for key in "abcd")
    assert ranking(balanced) == [a, c, b, d]
    assert ranking(spend_only) == [c, a, b, d]
    assert RfmScore.objects.get(run=spend_only, customer_id=b).tier == 2


def test_an_unchanged_rerun_gives_the_same_scores(shop):
    first, second = run_rfm(), run_rfm()

    assert scores_of(first) == scores_of(second)


def test_executing_a_run_twice_changes_nothing_and_a_failed_one_is_computed_again(shop):
    run = run_rfm()
    before = scores_of(run)

    again = rfm_run_execute(run_id=run.pk)
    assert again.finished_at == run.finished_at
    assert scores_of(again) == before

    RfmRun.objects.filter(pk=run.pk).update(status=RfmRun.Status.FAILED)
    rerun = rfm_run_execute(run_id=run.pk)
    assert rerun.status == RfmRun.Status.DONE
    assert scores_of(rerun) == before


def test_each_execution_is_logged_as_a_job_run(shop):
    run = run_rfm()

    job = JobRun.objects.get(name=JOB_NAME)
    assert job.status == JobRun.Status.DONE
    assert job.counts == {"run": run.pk, "scored": 4, "unscored": 3}


def test_a_failure_marks_the_run_failed_with_its_error_and_logs_it(shop, monkeypatch):
    run = rfm_run_create(actor=None, start=START, end=END)
    monkeypatch.setattr("segments.services.rfm.FIGURES_SQL", "SELECT no_such_function()")

    with pytest.raises(Exception, match="no_such_function"):
        rfm_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == RfmRun.Status.FAILED
    assert "no_such_function" in run.error
    assert JobRun.objects.get(name=JOB_NAME).status == JobRun.Status.FAILED


@pytest.mark.parametrize(
    ("start", "end", "tiers", "weights", "field"),
    [
        (END, START, 5, Weights(), "end"),
        (START, date.today() + timedelta(days=9), 5, Weights(), "end"),
        (date(1899, 12, 31), END, 5, Weights(), "start"),
        (START, END, 2, Weights(), "tiers"),
        (START, END, 11, Weights(), "tiers"),
        (START, END, 5, Weights(Decimal(0), Decimal(0), Decimal(0)), "weights"),
        (START, END, 5, Weights(Decimal(101), Decimal(1), Decimal(1)), "weights"),
        (START, END, 5, Weights(Decimal(-1), Decimal(1), Decimal(1)), "weights"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(start, end, tiers, weights, field):
    with pytest.raises(BusinessError) as refused:
        rfm_run_create(actor=None, start=start, end=end, tiers=tiers, weights=weights)

    assert field in refused.value.fields
    assert not RfmRun.objects.exists()


def test_only_the_newest_runs_keep_their_scores(shop):
    runs = [run_rfm() for _ in range(3)]

    purged = purge_old_scores(keep=1)

    assert purged == 2
    assert set(RfmScore.objects.values_list("run_id", flat=True)) == {runs[-1].pk}
    assert RfmRun.objects.get(pk=runs[0].pk).summary["scored"] == 4
    assert latest_run() == runs[-1]


# --- the rules as a property --------------------------------------------------------------

_phones = itertools.count(13700000001)
DAYS = (END - START).days

CUSTOMERS = st.lists(
    st.lists(
        st.tuples(st.integers(-10, DAYS + 10), st.sampled_from([10, 20, 55, 300, 1000])),
        max_size=3,
    ),
    min_size=1,
    max_size=8,
)


def expected_scores(figures: dict[int, tuple[int, int, Decimal]], tiers: int, weights) -> dict:
    """The rules of segments.services.rfm read literally, customer by customer."""
    n = len(figures)

    def quintile(pk, worse):
        rank = 1 + sum(1 for other in figures if worse(figures[other], figures[pk]))
        return 1 + 5 * (rank - 1) // n

    total = weights.r + weights.f + weights.m
    wr, wf, wm = weights.r / total, weights.f / total, weights.m / total
    scores = {}
    for pk in figures:
        r = quintile(pk, lambda other, mine: other[0] > mine[0])
        f = quintile(pk, lambda other, mine: other[1] < mine[1])
        m = quintile(pk, lambda other, mine: other[2] < mine[2])
        weighted = (wr * r + wf * f + wm * m).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
        scores[pk] = [r, f, m, weighted]
    means = [Fraction(sum(s[i] for s in scores.values()), n) for i in range(3)]
    result = {}
    for pk, (r, f, m, weighted) in scores.items():
        rank = 1 + sum(1 for other in scores.values() if other[3] > weighted)
        tier = 1 + tiers * (rank - 1) // n
        rfm_class = CLASS_OF[(r > means[0], f > means[1], m > means[2])]
        result[pk] = (r, f, m, weighted, tier, rfm_class)
    return result


@settings(max_examples=40, deadline=None)
@given(
    customers=CUSTOMERS,
    tiers=st.integers(3, 10),
    weights=st.tuples(*[st.integers(0, 3)] * 3).filter(any),
)
def test_every_data_set_is_scored_as_the_rules_say(customers, tiers, weights):
    weights = Weights(*(Decimal(w) for w in weights))
    with transaction.atomic():
        figures = {}
        for orders in customers:
            customer = customer_create(actor=None, name="客", phone=str(next(_phones)))
            in_range = []
            for offset, amount in orders:
                day = START + timedelta(days=offset)
                order_on(customer, day, amount)
                if START <= day <= END:
                    in_range.append((day, Decimal(amount)))
            if in_range:
                last = max(day for day, _amount in in_range)
                spend = sum((amount for _day, amount in in_range), Decimal(0))
                figures[customer.pk] = ((END - last).days, len(in_range), spend)

        run = run_rfm(tiers=tiers, weights=weights)

        stored = {
            score.customer_id: (
                score.r_score,
                score.f_score,
                score.m_score,
                score.score,
                score.tier,
                score.rfm_class,
            )
            for score in RfmScore.objects.filter(run=run)
        }
        assert stored == (expected_scores(figures, tiers, weights) if figures else {})
        assert run.scored == len(figures)
        assert run.unscored == len(customers) - len(figures)
        assert sum(tier["count"] for tier in run.summary["tiers"]) == run.scored
        transaction.set_rollback(True)


def test_the_figures_walk_the_covering_index_of_the_orders_without_the_heap(shop):
    """The aggregation reads order_customer_covering_idx alone, in customer order: no scan of
    the orders' heap, no hash of every customer's sums (docs/performance.md)."""
    with transaction.atomic(), connection.cursor() as cursor:
        for plan in PLAN_FOR_FIGURES:
            cursor.execute(f"SET LOCAL {plan} = off")
        cursor.execute(
            f"EXPLAIN (FORMAT JSON) {FIGURES_SQL}",
            {"end": END, "tz": django_settings.TIME_ZONE, "since": START, "until": END},
        )
        plan = json.dumps(cursor.fetchone()[0])

    # An Index Only Scan once VACUUM has marked the pages all-visible, as in production.
    assert "order_customer_covering_idx" in plan and '"Strategy": "Sorted"' in plan
    assert '"Node Type": "Sort"' not in plan and '"Strategy": "Hashed"' not in plan
    assert '"Node Type": "Seq Scan"' not in plan
