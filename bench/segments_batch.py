"""Time the segments batch work on generated data (issue 12): RFM runs, a segment's count and
preview, its first and a repeated refresh, and the portrait, at the size of `make bench`.

The database, settings and data are those of `make bench` (bench/run.py: BENCH_DATABASE_URL,
production settings, `generate_data` with BENCH_CUSTOMERS / BENCH_ORDERS when it has no
customers). Everything runs in this process through the services, as the nightly job and the
API call them; each step's wall-clock time and counts, with the load average before and after,
go to bench/results/<date>-<time>-segments.json and .md. A benchmark, not a test: run it on a
quiet machine, e.g.

    uv run python bench/segments_batch.py
"""

import os
import statistics
import sys
import time
from datetime import datetime, timedelta

import run

PREVIEW_RUNS = 10


def main() -> int:
    _generation, customers, orders = run.prepare(run.environment())
    steps = _steps()
    report = {
        "customers": customers,
        "orders": orders,
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": run.machine(),
        "command": "uv run python bench/segments_batch.py",
        "steps": steps,
    }
    run.write_results("segments", report, _markdown(report))
    return 0


def _steps() -> list[dict]:
    from django.utils import timezone

    from segments.models import Segment
    from segments.services.analysis import all_customers_portrait
    from segments.services.rfm import rfm_run_create, rfm_run_execute
    from segments.services.segments import (
        segment_create,
        segment_delete,
        segment_preview,
        segment_refresh,
    )

    today = timezone.localdate()
    steps = []

    def rfm(label, start):
        def step():
            created = rfm_run_create(actor=None, start=start, end=today - timedelta(days=1))
            done = rfm_run_execute(run_id=created.pk)
            return {"scored": done.scored, "unscored": done.unscored}

        steps.append(_timed(label, step))

    rfm("RFM run, last 365 days (5 tiers)", today - timedelta(days=365))
    rfm("RFM run, every order (5 tiers)", today - timedelta(days=3650))

    timings = []
    for _ in range(PREVIEW_RUNS):
        started = time.perf_counter()
        preview = segment_preview(condition=run.PREVIEW_CONDITION)
        timings.append(time.perf_counter() - started)
    steps.append(
        {
            "step": f"preview: count + sample of 10, four conditions ({PREVIEW_RUNS} runs)",
            "seconds": round(statistics.median(timings), 3),
            "p95_seconds": round(sorted(timings)[-1], 3),
            "counts": {"matched": preview.count},
            "load_average": list(os.getloadavg()),
        }
    )

    for old in Segment.objects.filter(name="bench"):
        segment_delete(segment=old, actor=None)

    def create():
        segment = segment_create(actor=None, name="bench", condition=run.PREVIEW_CONDITION)
        return {"segment": segment.pk, "count": segment.customer_count}

    steps.append(_timed("create: validate, count, save", create))
    segment = Segment.objects.get(name="bench")
    for label in ("refresh: first (every member inserted)", "refresh: again (no change)"):
        steps.append(_timed(label, lambda: _refreshed(segment_refresh(segment_id=segment.pk))))
    steps.append(
        _timed(
            "portrait of all customers",
            lambda: {"count": all_customers_portrait(fresh=True)["count"]},
        )
    )
    return steps


def _refreshed(refreshed) -> dict:
    return {"count": refreshed.count, "added": refreshed.added, "removed": refreshed.removed}


def _timed(label: str, step) -> dict:
    before = os.getloadavg()
    started = time.perf_counter()
    counts = step()
    seconds = time.perf_counter() - started
    print(f"{label:55} {seconds:8.2f} s  {counts}")
    return {
        "step": label,
        "seconds": round(seconds, 3),
        "counts": counts,
        "load_average": [before[0], os.getloadavg()[0]],
    }


def _markdown(report: dict) -> str:
    lines = [
        f"Size: {report['customers']:,} customers, {report['orders']:,} orders; {report['date']}; "
        f"`{report['command']}`.",
        "",
        "| step | seconds | counts | load average |",
        "| --- | ---: | --- | --- |",
    ]
    for step in report["steps"]:
        load = " → ".join(f"{value:.2f}" for value in step["load_average"][:2])
        lines.append(f"| {step['step']} | {step['seconds']:.2f} | {step['counts']} | {load} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
