"""Time the portrait rebuilds (issue 13) at the size of `make bench`: behaviour events generated
once (BENCH_EVENTS, default 5,000,000 over the last 60 days) when the table is empty, then a
full rebuild from an empty portrait table, a second full one (nothing changed, nothing
written), an incremental one after new orders for BENCH_CHANGED customers (default 10,000),
and the portrait read of 200 customers.

The database, settings and data are those of `make bench` (bench/run.py). In-process through
the services, as the nightly job and the API call them; results go to
bench/results/<date>-<time>-portraits.json and .md. A benchmark, not a test:

    uv run python bench/portraits_batch.py
"""

import os
import random
import statistics
import sys
import time
from datetime import datetime

import run
from segments_batch import _markdown, _timed

READS = 200


def main() -> int:
    _generation, customers, orders = run.prepare(run.environment())
    report = {
        "customers": customers,
        "orders": orders,
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": run.machine(),
        "command": "uv run python bench/portraits_batch.py",
        "steps": _steps(),
    }
    run.write_results("portraits", report, _markdown(report))
    return 0


def _steps() -> list[dict]:
    from django.db import connection

    from customers.models import Customer
    from profiles.services.portraits import portrait, rebuild_portraits

    def rebuild(full):
        def step():
            done = rebuild_portraits(full=full)
            return {key: done.counts[key] for key in ("type", "customers", "updated", "batches")}

        return step

    steps = [_timed("events: generated when none", _generate_events)]
    with connection.cursor() as cursor:  # the first rebuild after a deployment: from empty
        cursor.execute("TRUNCATE profiles_customerprofile")
    steps.append(_timed("full rebuild from empty", rebuild(True)))
    steps.append(_timed("full rebuild again (no change)", rebuild(True)))
    changed = int(os.environ.get("BENCH_CHANGED", 10_000))
    steps.append(_timed(f"new orders for {changed:,} customers", lambda: _new_orders(changed)))
    steps.append(_timed(f"incremental rebuild ({changed:,} changed)", rebuild(False)))
    steps.append(_timed("incremental rebuild again (nothing new)", rebuild(False)))

    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM customers_customer")
        (high,) = cursor.fetchone()
    rng = random.Random(13)
    ids = [rng.randint(1, high) for _ in range(READS)]
    timings = []
    for customer in Customer.objects.filter(pk__in=ids):
        started = time.perf_counter()
        portrait(customer)
        timings.append(time.perf_counter() - started)
    timings.sort()
    steps.append(
        {
            "step": f"portrait read ({len(timings)} customers, p50; p95 in counts)",
            "seconds": round(statistics.median(timings), 4),
            "counts": {"p95_seconds": round(timings[int(len(timings) * 0.95) - 1], 4)},
            "load_average": list(os.getloadavg()),
        }
    )
    return steps


def _generate_events() -> dict:
    from django.db import connection

    wanted = int(os.environ.get("BENCH_EVENTS", 5_000_000))
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM profiles_behaviourevent)")
        if cursor.fetchone()[0]:
            return {"generated": 0}
        cursor.execute("SELECT max(id) FROM customers_customer")
        (high,) = cursor.fetchone()
        # One in five customers browses: 5M events over 200k customers, sessions of ~5 events.
        # Each is received when it happened, as a live app sends them: the incremental rebuild
        # must not take the whole history for new.
        cursor.execute(
            """
            INSERT INTO profiles_behaviourevent
                (customer_id, type, channel, device, dish, category, session_id,
                 duration_seconds, occurred_at, received_at, ip_prefix)
            SELECT 1 + (hashint %% %(browsers)s) * 5,
                   (ARRAY['view','view','view','add_to_cart','order','review','share',
                          'favourite','visit'])[1 + n %% 9],
                   (ARRAY['mini_program','app','web','in_store'])[1 + (hashint / 7) %% 4],
                   (ARRAY['mobile','mobile','tablet','pc'])[1 + (hashint / 11) %% 4],
                   (ARRAY['宫保鸡丁','水煮鱼','小笼包','白切鸡','麻婆豆腐'])[1 + n %% 5],
                   (ARRAY['川菜','粤菜','淮扬菜'])[1 + n %% 3],
                   'bench-' || (n / 5), 10 + n %% 120,
                   now() - (n %% 86400000) * interval '60 milliseconds',
                   now() - (n %% 86400000) * interval '60 milliseconds', '203.0.113.0/24'
            FROM (SELECT n, abs(hashtext(n::text)) AS hashint
                  FROM generate_series(1, %(wanted)s) AS n) AS numbers
            """.replace("%(browsers)s", str(max(1, high // 5))),
            {"wanted": wanted},
        )
        return {"generated": cursor.rowcount}


def _new_orders(count: int) -> dict:
    """`count` customers each get one order now, copied from one of theirs (the rebuild reads
    what was recorded; how it was recorded is the order API's benchmark)."""
    from django.db import connection

    stamp = int(time.time())
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO customers_order
                (customer_id, source, external_id, store_id, channel, placed_at, amount, discount,
                 currency, points_used, payment_method, status, refunded_amount,
                 customer_created, created_at)
            SELECT DISTINCT ON (o.customer_id) o.customer_id, 'bench-portrait',
                   %(stamp)s || '-' || o.id, o.store_id, o.channel, now(), o.amount, 0, o.currency,
                   0, o.payment_method, 'paid', 0, false, now()
            FROM customers_order o
            WHERE o.customer_id IN (
                SELECT id FROM customers_customer ORDER BY random() LIMIT %(count)s
            )
            ORDER BY o.customer_id, o.id
            """,
            {"stamp": str(stamp), "count": count},
        )
        return {"orders": cursor.rowcount}


if __name__ == "__main__":
    sys.exit(main())
