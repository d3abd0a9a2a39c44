"""`make loadtest`: many staff users at once against the stack of `make bench` (bench/README.md).

Same database, data and gunicorn as bench/run.py, with the production throttle left as it is:
each simulated user has a token of its own. Two locust runs, headless, each for a fixed duration:
LOADTEST_USERS users (100) with a mean think time of LOADTEST_THINK seconds (1), then the same
users and mix with no think time, whose request rate is the saturation throughput. Statistics
start once every user has started (--reset-stats). Writes
bench/results/<date>-<time>-<size>-loadtest.json and .md.
"""

import csv
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import run

ROOT = Path(__file__).resolve().parent.parent
# The share of each role among the users: locustfile.py's weights (Operations 3, CustomerService 1).
ROLES = {"operations": 3, "customer_service": 1}
PERCENTILES = ("50%", "95%", "99%")


def main() -> int:
    users = int(os.environ.get("LOADTEST_USERS", 100))
    duration = int(os.environ.get("LOADTEST_DURATION", 60))
    think = float(os.environ.get("LOADTEST_THINK", 1))
    spawn_rate = float(os.environ.get("LOADTEST_SPAWN_RATE", 20))
    workers = int(os.environ.get("BENCH_WORKERS", 2))
    env = run.environment()
    _generation, size, order_total = run.prepare(env)
    total = sum(ROLES.values())
    tokens = {
        role: [
            run.bench_token(f"load-{role}-{index:03d}", role)
            for index in range(max(1, -(-users * share // total)))
        ]
        for role, share in ROLES.items()
    }
    runs = {}
    values = run.sample_values()
    with tempfile.TemporaryDirectory() as scratch, run.gunicorn(env, workers) as port:
        plan = Path(scratch) / "plan.json"
        plan.write_text(json.dumps({"tokens": tokens, "values": values}))
        # A worker's first requests load the URLs, the views and the translations (about 1.5 s):
        # they are not what a user waits for on a running server.
        for request in run.plan_requests(values).values():
            run.time_requests(port, tokens["operations"][0], request, runs=0, warmup=workers * 2)
        for name, seconds in (("think_time", think), ("saturation", 0)):
            print(f"==> locust: {users} users, think time {seconds} s, {duration} s")
            load_before = os.getloadavg()
            stats = _locust(port, plan, Path(scratch) / name, users, spawn_rate, duration, seconds)
            runs[name] = {
                "think_seconds": seconds,
                "load_average": {"before": load_before, "after": os.getloadavg()},
                **stats,
            }
    report = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "customers": size,
        "orders": order_total,
        "users": users,
        "roles": ROLES,
        "duration_seconds": duration,
        "spawn_rate": spawn_rate,
        "gunicorn_workers": workers,
        "machine": run.machine(),
        "runs": runs,
    }
    run.write_results(f"{run.size_label(size, order_total)}-loadtest", report, markdown(report))
    return 0


def _locust(port, plan, prefix, users, spawn_rate, duration, think) -> dict:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "--locustfile",
            str(ROOT / "bench" / "locustfile.py"),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(spawn_rate),
            "--run-time",
            f"{duration}s",
            "--host",
            f"http://127.0.0.1:{port}",
            "--csv",
            str(prefix),
            "--reset-stats",
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        env={**os.environ, "LOADTEST_PLAN": str(plan), "LOADTEST_THINK": str(think)},
        cwd=ROOT,
        # locust exits with 1 when a request failed: the failures are in the report.
        check=False,
    )
    with open(f"{prefix}_stats.csv", newline="") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    return {
        "total": _figures(rows.pop("Aggregated")),
        "requests": {name: _figures(row) for name, row in sorted(rows.items())},
    }


def _figures(row: dict) -> dict:
    return {
        "requests": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
        "requests_per_second": round(float(row["Requests/s"]), 1),
        **{f"p{key.rstrip('%')}": float(row[key]) for key in PERCENTILES},
        "max": float(row["Max Response Time"]),
    }


def markdown(report: dict) -> str:
    lines = [
        f"Size: {report['customers']:,} customers, {report['orders']:,} orders; "
        f"{report['users']} users (operations 3 : customer service 1), "
        f"{report['duration_seconds']} s per run, gunicorn {report['gunicorn_workers']} sync "
        f"workers; {report['date']}.",
    ]
    for result in report["runs"].values():
        think = result["think_seconds"]
        load = result["load_average"]
        lines += [
            "",
            f"**{'mean think time ' + str(think) + ' s' if think else 'no think time'}** "
            f"(load average {load['before'][0]:.2f} before, {load['after'][0]:.2f} after)",
            "",
            "| requests | count | failures | req/s | p50 ms | p95 ms | p99 ms | max ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        rows = [("**all**", result["total"]), *result["requests"].items()]
        for label, figures in rows:
            lines.append(
                f"| {label} | {figures['requests']:,} | {figures['failures']} | "
                f"{figures['requests_per_second']:.1f} | {figures['p50']:.0f} | "
                f"{figures['p95']:.0f} | {figures['p99']:.0f} | {figures['max']:.0f} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
