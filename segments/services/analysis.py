"""A group of customers described (spec 2.3.4 分群画像): tier, gender and age mixes, spend and
frequency statistics from the customer rows, and dish categories and channels from the orders of
the last ORDER_WINDOW_DAYS.

Everything is aggregated in SQL. The customer figures cover every member; the order mixes read
the orders of a sample of about ORDER_SAMPLE members (every n-th by id, the same sample for the
same members), since a million members' orders are tens of millions of item rows, while three
thousand customers give each share within about two percentage points (95%), at about a second
for a segment of frequent guests at 1M customers / 10M orders (docs/performance.md).
"""

from datetime import timedelta

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from customers.conditions.fields import years_before

ORDER_SAMPLE = 3_000
ORDER_WINDOW_DAYS = 365
ACTIVE_DAYS = 90
TOP_CATEGORIES = 10
AGE_BANDS = [(0, 17), (18, 25), (26, 35), (36, 45), (46, 55), (56, 200)]

EVERYONE_CACHE_KEY = "segments:all-customers-portrait:v1"
EVERYONE_CACHE_SECONDS = 6 * 60 * 60

SEGMENT_MEMBERS = "SELECT customer_id AS id FROM segments_segmentmember WHERE segment_id = %s"
LIVE_CUSTOMERS = "SELECT id FROM customers_customer WHERE status <> 'archived'"


def portrait(segment) -> dict:
    """The portrait of a segment's stored members."""
    return _portrait(SEGMENT_MEMBERS, [segment.pk])


def all_customers_portrait(*, fresh: bool = False) -> dict:
    """The portrait of every live customer, to compare a segment with: a few seconds at 1M
    customers, so kept in the cache for EVERYONE_CACHE_SECONDS (the nightly refresh renews it,
    `fresh`)."""
    portrait = None if fresh else cache.get(EVERYONE_CACHE_KEY)
    if portrait is None:
        portrait = _portrait(LIVE_CUSTOMERS, [])
        cache.set(EVERYONE_CACHE_KEY, portrait, EVERYONE_CACHE_SECONDS)
    return portrait


def _portrait(population: str, params: list) -> dict:
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT count(*), coalesce(sum(c.total_spent), 0), avg(c.total_spent),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY c.total_spent),
                   avg(c.order_count), avg(c.avg_order_value),
                   count(*) FILTER (WHERE c.last_order_date >= %s)
            FROM customers_customer c JOIN ({population}) p ON p.id = c.id
            """,
            [now - timedelta(days=ACTIVE_DAYS), *params],
        )
        count, spend, avg_spend, median_spend, avg_orders, avg_order_value, active = (
            cursor.fetchone()
        )
        cursor.execute(
            f"""
            SELECT c.level, c.gender, {_age_band_sql()}, count(*)
            FROM customers_customer c JOIN ({population}) p ON p.id = c.id
            GROUP BY GROUPING SETS ((c.level), (c.gender), (3))
            """,
            [*_age_band_params(), *params],
        )
        levels, genders, ages = {}, {}, {}
        for level, gender, band, members in cursor.fetchall():
            if level is not None:
                levels[level] = members
            elif gender is not None:
                genders[gender] = members
            else:
                ages[band] = members
        # Every step-th customer by id: a systematic sample that needs no sort of the members,
        # the same customers for the same members, and orders found through their index.
        step = max(count // ORDER_SAMPLE, 1)
        sample = f"SELECT id FROM ({population}) p WHERE id %% {step} = 0"
        since = now - timedelta(days=ORDER_WINDOW_DAYS)
        cursor.execute(
            f"""
            SELECT o.channel, count(*) FROM customers_order o
            JOIN ({sample}) s ON s.id = o.customer_id
            WHERE o.placed_at >= %s GROUP BY o.channel
            """,
            [*params, since],
        )
        channels = dict(cursor.fetchall())
        cursor.execute(
            f"""
            SELECT i.category, sum(i.quantity) FROM customers_orderitem i
            JOIN customers_order o ON o.id = i.order_id
            JOIN ({sample}) s ON s.id = o.customer_id
            WHERE o.placed_at >= %s AND i.category <> ''
            GROUP BY i.category ORDER BY 2 DESC, 1 LIMIT {TOP_CATEGORIES}
            """,
            [*params, since],
        )
        categories = [{"category": name, "quantity": int(qty)} for name, qty in cursor.fetchall()]
    return {
        "count": count,
        "spend": str(spend),
        "avgSpend": _money(avg_spend),
        "medianSpend": _money(median_spend),
        "avgOrders": round(float(avg_orders), 2) if avg_orders is not None else None,
        "avgOrderValue": _money(avg_order_value),
        "activeShare": round(active / count, 4) if count else None,
        "levels": levels,
        "genders": genders,
        # A list, not an object: jsonb does not keep the order of an object's keys.
        "ageBands": [{"band": label, "count": ages.get(label, 0)} for label in _band_labels()],
        "channels": channels,
        "topCategories": categories,
        "orderSampleStep": step,  # the order mixes read every step-th customer
    }


def _money(value) -> str | None:
    return None if value is None else f"{value:.2f}"


def _band_labels() -> list[str]:
    return [f"{low}-{high}" if high < 200 else f"{low}+" for low, high in AGE_BANDS] + ["unknown"]


def _age_band_sql() -> str:
    branches = " ".join("WHEN c.birthday > %s AND c.birthday <= %s THEN %s" for _band in AGE_BANDS)
    return f"CASE WHEN c.birthday IS NULL THEN 'unknown' {branches} END"


def _age_band_params() -> list:
    """For each band (low, high) of ages: born after the day high + 1 years ago and on or
    before the day low years ago."""
    today = timezone.localdate()
    params = []
    for (low, high), label in zip(AGE_BANDS, _band_labels(), strict=False):
        params += [years_before(today, high + 1), years_before(today, low), label]
    return params
