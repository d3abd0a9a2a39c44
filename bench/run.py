"""`make bench`: time the API on generated data against the real stack (bench/README.md).

Starts gunicorn with the production settings on a free loopback port, against its own database
(BENCH_DATABASE_URL, default crm_bench on 127.0.0.1:5432) which it migrates and fills with
`generate_data` when it has no customers. Each operation gets warm-up requests, then timed ones;
the client measures wall-clock time per request. Writes bench/results/<date>-<size>.json and .md.
"""

import http.client
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parent.parent
# The four-condition segment of reference/postgres-limits.md ("segment count", 107 ms by a
# parallel sequential scan at 1M customers): tier in (vip, svip) and spend over 1,000 and an
# order in the last 90 days, or a woman born in November.
PREVIEW_CONDITION = {
    "logicalOperator": "or",
    "conditions": [
        {
            "logicalOperator": "and",
            "conditions": [
                {"field": "level", "operator": "in", "value": ["vip", "svip"]},
                {"field": "totalSpent", "operator": "gt", "value": 1000},
                {"field": "lastOrderDate", "operator": "within_days", "value": 90},
            ],
        },
        {
            "logicalOperator": "and",
            "conditions": [
                {"field": "gender", "operator": "eq", "value": "female"},
                {"field": "birthdayMonth", "operator": "eq", "value": 11},
            ],
        },
    ],
}
RESULTS = ROOT / "bench" / "results"
KEYS_FILE = ROOT / ".data" / "bench-keys.json"

# The bare-PostgreSQL floor for each operation, in ms (median), from
# ../shared/reference/postgres-limits.md, "Results" (1M customers / 10M orders, warm). The row
# each figure comes from is named beside it; "+" adds the exact count our responses include.
FLOORS = {
    # "list page 1, ORDER BY created_at DESC LIMIT 20" 0.24 + "count(*) customers" 25.5
    "list_first_page": 25.74,
    # "list page at OFFSET 500000" 65.3 + "count(*) customers" 25.5
    "list_deep_page": 90.8,
    # "list page at depth 500000, keyset" 0.24 + "count(*) customers" 25.5
    "list_deep_cursor": 25.74,
    # "name substring 2-char, page 20 + total count, bigram GIN" 0.90
    "search_name_2char": 0.90,
    # "name substring 1-char surname, page 20 + total count, bigram/unigram GIN" 43.0
    "search_surname": 43.0,
    # "phone exact, btree on phone_hmac" 0.16
    "search_phone": 0.16,
    # "phone last 4 digits" 0.22 + "phone last 4, page 20" 0.21
    "search_phone_last4": 0.43,
    # no e-mail row: "phone exact" 0.16, the same HMAC btree lookup
    "search_email": 0.16,
    # no customer-number row: "2-char prefix LIKE (count), btree text_pattern_ops" 0.21
    "search_customer_no": 0.21,
    # "count where level_id=3 AND store_id=7" 80.1 + "list page 1 filtered store_id=7" 0.29
    "filter_combined": 80.39,
    # "customer's orders (typical, 6 orders)" 0.18 (the customer row itself is a pkey lookup)
    "customer_detail": 0.18,
    # no floor measured for a write
    "order_record": None,
    # as the unmasked ones, plus the audit event's INSERT
    "list_first_page_revealed": 25.74,
    "customer_detail_revealed": 0.18,
    # "segment count: level_id IN (3,4) AND total_spend>1000 AND last_order_at>now()-90d OR
    # (gender=2 AND month(birthday)=11)" 107.4 + "segment members page 20" 0.25
    "segment_preview": 107.65,
}
# DESIGN.md "Scale" table, p95 targets in ms.
TARGETS = {
    "list_first_page": 50,  # customer list, first 100 pages, with total
    "list_deep_page": 300,  # customer list, any page (OFFSET up to 1M)
    "list_deep_cursor": 300,  # the same, walked with the cursor
    "search_name_2char": 50,  # search: 2-char Chinese name, page + total
    "search_surname": 100,  # search: 1-char surname, full/last-4 phone, e-mail, customer no.
    "search_phone": 100,
    "search_phone_last4": 100,
    "search_email": 100,
    "search_customer_no": 100,
    "filter_combined": 100,  # no row of its own: held to the search target
    "customer_detail": 50,  # customer detail with recent orders
    "order_record": None,  # "order -> customer figures visible: same request"; no latency target
    "list_first_page_revealed": 50,
    "customer_detail_revealed": 50,
    "segment_preview": 250,  # segment preview count (4 conditions)
}
LABELS = {
    "list_first_page": "customer list, first page (20, with total)",
    "list_deep_page": "customer list, deep page (limit 20, OFFSET 499,980 or the last page)",
    "list_deep_cursor": "customer list, cursor at the same depth",
    "search_name_2char": "search: 2-char name",
    "search_surname": "search: 1-char surname",
    "search_phone": "search: full phone",
    "search_phone_last4": "search: last 4 phone digits",
    "search_email": "search: e-mail",
    "search_customer_no": "search: customer number prefix",
    "filter_combined": "filters: level + tag + startDate",
    "customer_detail": "customer detail with recent orders",
    "order_record": "record an order (POST /api/v1/orders)",
    "list_first_page_revealed": "customer list, first page, unmasked (customer service: audited)",
    "customer_detail_revealed": "customer detail, unmasked (customer service: audited)",
    "segment_preview": "segment preview: count + 10 newest, four conditions (marketing)",
}
# Who sends the requests: staff in real roles, not a superuser (who skips the permission
# queries). Operations may list, search, open and record orders but sees phones masked, as
# marketing and finance do; customer service sees them unmasked, which writes an audit event
# per response, so the operations named in REVEALED are also timed as customer service.
BENCH_USERS = {
    "staff": ("bench", "operations"),
    "reveal": ("bench-reveal", "customer_service"),
    "marketing": ("bench-marketing", "marketing"),
}
REVEALED = {
    "list_first_page_revealed": "list_first_page",
    "customer_detail_revealed": "customer_detail",
}
# Operations timed as marketing, who builds segments.
MARKETING = {"segment_preview"}


def main() -> int:
    runs = int(os.environ.get("BENCH_RUNS", 30))
    warmup = int(os.environ.get("BENCH_WARMUP", 3))
    workers = int(os.environ.get("BENCH_WORKERS", 2))
    env = environment()
    # One client sends thousands of requests: the per-user throttle would measure itself.
    env["API_THROTTLE_RATE"] = "1000000/min"
    generation, size, order_total = prepare(env)
    tokens = {kind: bench_token(*user) for kind, user in BENCH_USERS.items()}
    plan = plan_requests(sample_values())
    plan.update({name: plan[source] for name, source in REVEALED.items()})
    load_before = os.getloadavg()
    results = {}
    with gunicorn(env, workers) as port:
        for name, request in plan.items():
            kind = "reveal" if name in REVEALED else "marketing" if name in MARKETING else "staff"
            token = tokens[kind]
            samples = time_requests(port, token, request, runs=runs, warmup=warmup)
            results[name] = _summary(samples)
            print(f"{name:26} p50 {results[name]['p50']:8.1f}  p95 {results[name]['p95']:8.1f} ms")
    report = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "customers": size,
        "orders": order_total,
        "generation_seconds": generation,
        "runs": runs,
        "warmup": warmup,
        "gunicorn_workers": workers,
        "users": {kind: role for kind, (_name, role) in BENCH_USERS.items()},
        # 1, 5 and 15-minute load averages before and after (uptime): a busy machine inflates
        # every figure.
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "machine": machine(),
        "results": results,
    }
    write_results(size_label(size, order_total), report, markdown(report))
    return 0


def prepare(env: dict) -> tuple[float | None, int, int]:
    """Create and migrate the bench database, fill it when it has no customers (BENCH_CUSTOMERS,
    BENCH_ORDERS) and set Django up in this process. Returns the generation's seconds (None when
    the data was there) and the numbers of customers and orders."""
    customers = int(os.environ.get("BENCH_CUSTOMERS", 1_000_000))
    orders = int(os.environ.get("BENCH_ORDERS", 10_000_000))
    _ensure_database(env["DATABASE_URL"])
    _manage(env, "migrate", "--noinput", "-v0")
    _configure_django(env)
    from customers.models import Customer, Order

    generation = None
    if not Customer.objects.exists():
        print(f"==> Generating {customers:,} customers and {orders:,} orders")
        started = time.perf_counter()
        _manage(env, "generate_data", f"--customers={customers}", f"--orders={orders}")
        generation = round(time.perf_counter() - started, 1)
        # The generator's tiers and points are a stand-in (the core cannot import membership):
        # opening points lots and tiers by the membership rules, as `make run` does for the demo.
        _manage(env, "membership_backfill")
    return generation, Customer.objects.count(), Order.objects.count()


def write_results(name: str, report: dict, table: str) -> None:
    """bench/results/<date>-<time>-<name>.json and .md; the time keeps runs of a day apart."""
    label = f"{datetime.now():%Y-%m-%d-%H%M}-{name}"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{label}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / f"{label}.md").write_text(table)
    print(table)
    print(f"==> Wrote bench/results/{label}.json and .md")


def environment() -> dict:
    """Production settings against the bench database; keys kept in .data/ so that data
    encrypted by one run stays readable by the next."""
    if KEYS_FILE.exists():
        keys = json.loads(KEYS_FILE.read_text())
    else:
        from cryptography.fernet import Fernet

        keys = {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "BLIND_INDEX_KEY": secrets.token_urlsafe(32),
        }
        KEYS_FILE.parent.mkdir(parents=True, exist_ok=True)
        KEYS_FILE.write_text(json.dumps(keys))
        KEYS_FILE.chmod(0o600)
    env = dict(os.environ)
    env.update(keys)
    env.update(
        DJANGO_SETTINGS_MODULE="crm.settings.production",
        DATABASE_URL=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench"
        ),
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
    )
    env.pop("DEBUG", None)
    return env


def _ensure_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            print(f"==> Creating database {name}")
            conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")


def _manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, check=True)


def _configure_django(env: dict) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def bench_token(username: str, role: str) -> str:
    """A staff user holding only `role` (made so again if an earlier run left it otherwise),
    and a new API token for it."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from crm.auth.tokens import create_api_token

    user, _created = get_user_model().objects.update_or_create(
        username=username, defaults={"is_staff": True, "is_superuser": False, "is_active": True}
    )
    user.groups.set([Group.objects.get(name=role)])
    _token, key = create_api_token(user=user, name="bench")
    return key


def sample_values() -> dict:
    """Search terms, ids and filter values drawn from the real data (JSON, for the load test)."""
    from django.db.models import Count
    from django.db.models.functions import Length

    from crm.api.pagination import _encode_cursor, _keyset_ordering
    from customers.models import Customer, CustomerTag

    rng = random.Random(1)
    live = Customer.objects.live()
    names = list(
        live.annotate(length=Length("name"))
        .filter(length=2)
        .values("name")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("name", flat=True)[:20]
    )
    top = Customer.objects.order_by("-id").values_list("id", flat=True).first() or 1
    sample = list(
        Customer.objects.filter(pk__gte=rng.randrange(1, top + 1), email__isnull=False)[:20]
    ) or list(Customer.objects.all()[:20])
    start = (
        live.order_by("register_date")
        .values_list("register_date", flat=True)[live.count() // 2 : live.count() // 2 + 1]
        .first()
    )
    depth = min(499_980, max(live.count() - 20, 0))
    ordered = live.order_by("-created_at", "-id")
    anchor = ordered[depth - 1 : depth].first() if depth else None
    return {
        "names": names or ["王芳"],
        "surnames": ["王", "李", "张", "刘", "陈"],
        "phones": [c.phone[3:] for c in sample],
        "last4": [c.phone[-4:] for c in sample],
        "emails": [c.email for c in sample if c.email] or ["nobody@example.com"],
        "customer_nos": [c.customer_no[:-2] for c in sample],
        "tag": CustomerTag.objects.values_list("tag__name", flat=True).first() or "美食爱好者",
        "start_date": start.isoformat() if start else "",
        "depth": depth,
        "cursor": _encode_cursor(_keyset_ordering(ordered), anchor) if anchor else None,
        "ids": list(Customer.objects.values_list("id", flat=True)[:1000]),
    }


def order_body(*, customer_id: int, external_id: str) -> dict:
    """A two-dish dine-in order as the ordering system sends it, from source `bench`."""
    return {
        "externalId": external_id,
        "source": "bench",
        "storeId": "S001",
        "channel": "dine_in",
        "customerId": customer_id,
        "placedAt": datetime.now().astimezone().isoformat(),
        "amount": "128.00",
        "discount": "8.00",
        "paymentMethod": "wechat_pay",
        "items": [
            {"dish": "宫保鸡丁", "category": "川菜", "quantity": 1, "price": "48.00"},
            {"dish": "水煮鱼", "category": "川菜", "quantity": 1, "price": "80.00"},
        ],
    }


def plan_requests(values: dict) -> dict:
    """Each operation as a callable returning (method, path, body)."""
    rng = random.Random(1)
    external = iter(range(10**9))
    prefix = f"bench-{int(time.time())}-"
    depth, cursor = values["depth"], values["cursor"]

    def get(path, **params):
        return lambda: ("GET", f"{path}?{urlencode(params)}" if params else path, None)

    def search(key):
        return lambda: (
            "GET",
            "/api/v1/customers?" + urlencode({"search": rng.choice(values[key])}),
            None,
        )

    def order():
        body = order_body(
            customer_id=rng.choice(values["ids"]), external_id=f"{prefix}{next(external)}"
        )
        return "POST", "/api/v1/orders", body

    return {
        "list_first_page": get("/api/v1/customers"),
        "list_deep_page": get("/api/v1/customers", page=depth // 20 + 1, limit=20),
        "list_deep_cursor": get("/api/v1/customers", cursor=cursor, limit=20)
        if cursor
        else get("/api/v1/customers"),
        "search_name_2char": search("names"),
        "search_surname": search("surnames"),
        "search_phone": search("phones"),
        "search_phone_last4": search("last4"),
        "search_email": search("emails"),
        "search_customer_no": search("customer_nos"),
        "filter_combined": get(
            "/api/v1/customers",
            level="vip",
            tag=values["tag"],
            startDate=values["start_date"],
        ),
        "customer_detail": lambda: ("GET", f"/api/v1/customers/{rng.choice(values['ids'])}", None),
        "order_record": order,
        "segment_preview": lambda: (
            "POST",
            "/api/v1/customers/segments/preview",
            {"condition": PREVIEW_CONDITION},
        ),
    }


def time_requests(port: int, token: str, request, *, runs: int, warmup: int) -> list[float]:
    samples = []
    for index in range(warmup + runs):
        method, path, body = request()
        headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        response.read()
        elapsed = (time.perf_counter() - started) * 1000
        conn.close()
        if response.status >= 400:
            raise RuntimeError(f"{method} {path} answered {response.status}")
        if index >= warmup:
            samples.append(elapsed)
    return samples


def _summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p95 = statistics.quantiles(ordered, n=20, method="inclusive")[-1] if len(ordered) > 1 else 0
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(p95, 2),
        "max": round(ordered[-1], 2),
        "n": len(ordered),
    }


def markdown(report: dict) -> str:
    load = report.get("load_average")
    lines = [
        f"Size: {report['customers']:,} customers, {report['orders']:,} orders; "
        f"{report['runs']} timed requests per operation after {report['warmup']} warm-ups; "
        f"gunicorn {report['gunicorn_workers']} sync workers; {report['date']}"
        + (
            f"; load average {load['before'][0]:.2f} before, {load['after'][0]:.2f} after."
            if load
            else "."
        ),
        "",
        "| operation | p50 ms | p95 ms | max ms | bare PostgreSQL floor ms (1M/10M) | p95 / floor "
        "| target p95 ms | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, figures in report["results"].items():
        floor, target = FLOORS.get(name), TARGETS.get(name)
        ratio = f"{figures['p95'] / floor:,.0f}×" if floor else "—"
        met = "—" if target is None else ("met" if figures["p95"] <= target else "**missed**")
        lines.append(
            f"| {LABELS.get(name, name)} | {figures['p50']:.1f} | {figures['p95']:.1f} | "
            f"{figures['max']:.1f} | {floor if floor is not None else '—'} | {ratio} | "
            f"{target if target is not None else '—'} | {met} |"
        )
    return "\n".join(lines) + "\n"


def size_label(customers: int, orders: int) -> str:
    def short(n):
        return f"{n // 1_000_000}m" if n >= 1_000_000 else f"{n // 1000}k"

    return f"{short(customers)}-{short(orders)}"


def machine() -> dict:
    import psycopg
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        buffers = cursor.fetchone()[0]
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "postgresql": version,
        "shared_buffers": buffers,
        "psycopg": psycopg.__version__,
    }


@contextmanager
def gunicorn(env: dict, workers: int):
    """gunicorn serving crm.wsgi on a free loopback port (yielded) until the block ends."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    print(f"==> gunicorn crm.wsgi on 127.0.0.1:{port}, {workers} workers")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "crm.wsgi",
            f"--bind=127.0.0.1:{port}",
            f"--workers={workers}",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        _wait_for(port)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _wait_for(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


if __name__ == "__main__":
    sys.exit(main())
