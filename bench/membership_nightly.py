"""Time the nightly membership run on generated data (issue 5: the nightly evaluation of 1M
customers in under 2 minutes).

The database, settings and data are those of `make bench` (bench/run.py: BENCH_DATABASE_URL,
production settings, `generate_data` with BENCH_CUSTOMERS / BENCH_ORDERS when it has no
customers). Then, in this process:

1. unless `--no-reset`, membership goes back to where the generator left it: no ledger, no tier
   changes or grace periods, each customer's generated tier and points
   (customers.devdata.generate), so that every run starts from the same state;
2. `backfill_membership`: the opening-balance lots, then the first evaluation of every tier, which
   applies many changes (the generator chose tiers by lifetime spend, the rules look at the last
   365 days: upgrades at once, grace periods for tiers no longer met);
3. `evaluate_levels` alone, as of the same day: reads everything, changes nothing;
4. `run_nightly` as of the same day, twice: expiries and the evaluation, few changes;
5. `run_nightly` as of the day after the longest grace period, when the grace periods started in
   step 2 have run out: a night of many downgrades; then once more that day, with few;
6. `run_nightly` as of the day after the opening lots' expiry date: every lot expires that night.

Each step's wall-clock time, counts, load average before and after, and the process's peak
memory so far go to bench/results/<date>-<time>-membership-nightly.json and .md. `--profile`
prints where evaluate_levels spends its time (cProfile, step 3). A benchmark, not a test: run it
on a quiet machine, e.g.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_mtier \
        uv run python bench/membership_nightly.py
"""

import argparse
import cProfile
import os
import pstats
import resource
import sys
import time
from datetime import datetime, timedelta

import run


def main() -> int:
    args = _arguments()
    _generation, customers, orders = run.prepare(run.environment())
    if args.reset:
        _timed("reset to the generated state", _reset)
    steps = _run_steps(args.profile)
    report = {
        "customers": customers,
        "orders": orders,
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": run.machine(),
        "command": "uv run python bench/membership_nightly.py",
        "steps": steps,
    }
    run.write_results("membership-nightly", report, _markdown(report))
    return 0


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--no-reset", dest="reset", action="store_false", help="Keep the membership state."
    )
    parser.add_argument("--profile", action="store_true", help="Profile evaluate_levels.")
    return parser.parse_args()


def _run_steps(profile: bool) -> list[dict]:
    from django.utils import timezone

    from membership.models import MembershipLevel, PointsPolicy
    from membership.services.backfill import backfill_membership
    from membership.services.nightly import run_nightly
    from membership.services.points import expiry_date
    from membership.services.tiers import evaluate_levels

    today = timezone.localdate()
    longest_grace = max(MembershipLevel.objects.values_list("grace_days", flat=True))
    later = today + timedelta(days=longest_grace + 1)
    lots_expire = expiry_date(today, PointsPolicy.current().expiry_months)
    steps = []

    def backfill():
        result = backfill_membership(today=today)
        return {
            "opening_lots": result.opening_lots,
            "opening_points": result.opening_points,
            **result.evaluation.counts(),
        }

    def evaluate():
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        result = evaluate_levels(today=today)
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        return result.counts()

    def nightly(day):
        return lambda: dict(run_nightly(today=day).counts)

    steps.append(_timed(f"membership_backfill as of {today}", backfill))
    steps.append(_timed(f"evaluate_levels alone as of {today}", evaluate))
    steps.append(_timed(f"run_nightly as of {today}", nightly(today)))
    steps.append(_timed(f"run_nightly as of {today} again", nightly(today)))
    steps.append(_timed(f"run_nightly as of {later} (grace periods over)", nightly(later)))
    steps.append(_timed(f"run_nightly as of {later} again", nightly(later)))
    if lots_expire is not None:
        day = lots_expire + timedelta(days=1)
        steps.append(_timed(f"run_nightly as of {day} (every opening lot expires)", nightly(day)))
    return steps


def _timed(name: str, step) -> dict:
    load_before = os.getloadavg()
    started = time.perf_counter()
    counts = step()
    seconds = time.perf_counter() - started
    load_after = os.getloadavg()
    # The process's peak so far (kB on Linux): what a step needs shows where the peak rises.
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(
        f"{name}: {seconds:.1f} s, {counts}, load {load_before[0]:.2f} -> {load_after[0]:.2f}, "
        f"peak RSS {peak_mb} MB"
    )
    return {
        "step": name,
        "seconds": round(seconds, 2),
        "counts": counts,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "peak_rss_mb": peak_mb,
    }


def _reset() -> dict:
    """Membership as the generator left it (customers.devdata.generate: tier by lifetime spend, one
    point per yuan), in one transaction; only rows that differ are written."""
    from django.db import connection, transaction

    from customers.devdata.tiers import LEVEL_THRESHOLDS

    cases = " ".join(
        f"WHEN total_spent >= {threshold} THEN '{level}'" for threshold, level in LEVEL_THRESHOLDS
    )
    generated_level = f"(CASE {cases} END)"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE membership_levelchange, membership_tiergrace, membership_pointsentry, "
            "membership_benefitusage, membership_membership"
        )
        cursor.execute(
            f"""
            UPDATE customers_customer SET level = {generated_level},
                   points = floor(total_spent)::integer
            WHERE level <> {generated_level} OR points <> floor(total_spent)::integer
            """
        )
        return {"customers_restored": cursor.rowcount}


def _markdown(report: dict) -> str:
    machine = report["machine"]
    lines = [
        f"Size: {report['customers']:,} customers, {report['orders']:,} orders; {report['date']}; "
        f"{machine['cpus']} CPUs, PostgreSQL {machine['postgresql']}, shared_buffers "
        f"{machine['shared_buffers']}. Command: `{report['command']}`.",
        "",
        "| step | seconds | counts | load average (1 min) before → after | peak RSS MB |",
        "| --- | ---: | --- | --- | ---: |",
    ]
    for step in report["steps"]:
        counts = ", ".join(f"{key} {value:,}" for key, value in step["counts"].items())
        lines.append(
            f"| {step['step']} | {step['seconds']:.1f} | {counts} | "
            f"{step['load_before'][0]:.2f} → {step['load_after'][0]:.2f} | "
            f"{step['peak_rss_mb']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
