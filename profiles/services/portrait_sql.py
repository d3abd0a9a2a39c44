"""The one statement that computes portraits (spec 2.4.1-2.4.3) from orders and behaviour events
and upserts them into profiles_customerprofile, for the customers its scope names.

The full rebuild, the incremental one and the refresh after an order or an event batch run this
same statement (profiles.services.portraits), so a figure cannot differ by how it was computed.
Money is what the customer paid and kept paid (amount - discount - refunded amount, as the
customer's totals); fully refunded orders do not count. Hours and weekdays are the restaurants'
(settings.TIME_ZONE). Ties in a top-N list go to the smaller name, so a rerun on unchanged data
changes no row: the upsert's WHERE writes a row only when a figure changed.
"""

from itertools import pairwise

# Frequency from the mean gap between first and last order, in days (upper bounds).
FREQUENCY_GAPS = (("weekly", 10), ("biweekly", 20), ("monthly", 45), ("quarterly", 120))
# Average order value bands (yuan): lower bounds of "0-50", "50-100", ... "500+".
PRICE_BANDS = (0, 50, 100, 200, 500)
# Income bands by average order value (yuan, upper bounds); above the last one: high.
INCOME_BANDS = (("low", 50), ("middle", 150), ("upper_middle", 400))
# Occupation needs this many orders before it is guessed at all; confidence grows with the
# orders up to ORDERS_FOR_FULL_CONFIDENCE.
MIN_ORDERS_FOR_OCCUPATION = 3
ORDERS_FOR_FULL_CONFIDENCE = 10

COMPUTED_COLUMNS = (
    "order_count",
    "total_spent",
    "avg_order_value",
    "frequency",
    "price_range",
    "favourite_categories",
    "favourite_dishes",
    "favourite_tastes",
    "peak_hours",
    "payment_preferences",
    "preferred_order_channel",
    "visit_count",
    "total_duration_seconds",
    "avg_session_seconds",
    "browsed_categories",
    "browsed_dishes",
    "reviews",
    "shares",
    "favourites",
    "preferred_channel",
    "device",
    "browsing_pattern",
    "occupation_inferred",
    "occupation_confidence",
    "income_inferred",
    "income_confidence",
)


def _top(source: str, key: str, n: int, weight: str = "count(*)", where: str = "") -> str:
    """Per customer, the `n` values of `key` with the highest `weight`, as a text array."""
    condition = f"WHERE {where}" if where else ""
    return f"""
        SELECT customer_id, (array_agg(value ORDER BY weight DESC, value))[1:{n}] AS top
        FROM (
            SELECT customer_id, {key} AS value, {weight} AS weight
            FROM {source} {condition} GROUP BY 1, 2
        ) ranked
        GROUP BY customer_id"""


def _frequency() -> str:
    gap = "extract(epoch FROM t.last_at - t.first_at) / 86400 / (t.n - 1)"
    cases = " ".join(f"WHEN {gap} <= {days} THEN '{label}'" for label, days in FREQUENCY_GAPS)
    return (
        f"CASE WHEN t.n IS NULL THEN 'none' WHEN t.n = 1 THEN 'once' {cases} ELSE 'occasional' END"
    )


def _price_range() -> str:
    bounds = list(PRICE_BANDS)
    cases = " ".join(f"WHEN t.aov < {high} THEN '{low}-{high}'" for low, high in pairwise(bounds))
    return f"CASE WHEN t.n IS NULL THEN '' {cases} ELSE '{bounds[-1]}+' END"


def _income() -> str:
    cases = " ".join(f"WHEN t.aov < {high} THEN '{label}'" for label, high in INCOME_BANDS)
    return f"CASE WHEN t.n IS NULL THEN '' {cases} ELSE 'high' END"


# Each occupation: the share of orders that suggests it, and what else must hold. The first
# whose share reaches half of the orders wins; its confidence is that share, scaled down while
# the orders are few.
OCCUPATION_SIGNS = (
    ("white_collar", "t.weekday_lunch", "TRUE"),  # weekday lunches: an office nearby
    ("business", "t.weekday_dinner", "t.aov >= 300"),  # weekday dinners at a high bill
    ("student", "t.late", "t.aov < 60"),  # late and cheap
    ("family", "t.weekend", "t.aov >= 200"),  # weekends at a table-sized bill
)


def _occupation() -> tuple[str, str]:
    guard = f"t.n >= {MIN_ORDERS_FOR_OCCUPATION}"
    label = " ".join(
        f"WHEN {guard} AND {share} >= 0.5 AND {extra} THEN '{name}'"
        for name, share, extra in OCCUPATION_SIGNS
    )
    scale = f"least(1.0, t.n::numeric / {ORDERS_FOR_FULL_CONFIDENCE})"
    confidence = " ".join(
        f"WHEN {guard} AND {share} >= 0.5 AND {extra} THEN round({share} * {scale}, 2)"
        for name, share, extra in OCCUPATION_SIGNS
    )
    return f"CASE {label} ELSE '' END", f"CASE {confidence} END"


def _hour_label(hour: str) -> str:
    start = f"lpad({hour}::text, 2, '0')"
    end = f"lpad(mod({hour} + 1, 24)::text, 2, '0')"
    return f"{start} || ':00-' || {end} || ':00'"


def portrait_upsert_sql(scope_where: str) -> str:
    """The statement for the customers matching `scope_where` (SQL on customers_customer `c`,
    with named parameters); also takes %(tz)s and %(now)s. Its rowcount is the rows written."""
    occupation, occupation_confidence = _occupation()
    hour = "extract(hour FROM local_at)::int"
    daypart = (
        f"CASE WHEN {hour} BETWEEN 6 AND 10 THEN 'morning' "
        f"WHEN {hour} BETWEEN 11 AND 13 THEN 'lunchtime' "
        f"WHEN {hour} BETWEEN 14 AND 16 THEN 'afternoon' "
        f"WHEN {hour} BETWEEN 17 AND 20 THEN 'evening' ELSE 'late_night' END"
    )
    columns = ", ".join(COMPUTED_COLUMNS)
    changed = ", ".join(f"p.{column}" for column in COMPUTED_COLUMNS)
    incoming = ", ".join(f"EXCLUDED.{column}" for column in COMPUTED_COLUMNS)
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in COMPUTED_COLUMNS)
    return f"""
    WITH scope AS (
        SELECT c.id FROM customers_customer c WHERE ({scope_where}) AND c.erased_at IS NULL
    ),
    o AS MATERIALIZED (
        SELECT o.id, o.customer_id, o.placed_at AT TIME ZONE %(tz)s AS local_at,
               o.amount - o.discount - o.refunded_amount AS net, o.payment_method, o.channel
        FROM customers_order o JOIN scope ON scope.id = o.customer_id
        WHERE o.status <> 'refunded'
    ),
    totals AS (
        SELECT customer_id, count(*) AS n, sum(net) AS spent, round(avg(net), 2) AS aov,
               min(local_at) AS first_at, max(local_at) AS last_at,
               avg((extract(isodow FROM local_at) <= 5
                    AND {hour} BETWEEN 11 AND 13)::int) AS weekday_lunch,
               avg((extract(isodow FROM local_at) <= 5
                    AND {hour} BETWEEN 17 AND 20)::int) AS weekday_dinner,
               avg(({hour} >= 21 OR {hour} < 2)::int) AS late,
               avg((extract(isodow FROM local_at) >= 6)::int) AS weekend
        FROM o GROUP BY customer_id
    ),
    hours AS ({_top("o", _hour_label(hour), 2)}),
    payments AS ({_top("o", "payment_method", 2)}),
    order_channels AS ({_top("o", "channel", 1)}),
    items AS MATERIALIZED (
        SELECT o.customer_id, i.dish, i.category, i.tastes, i.quantity
        FROM o JOIN customers_orderitem i ON i.order_id = o.id
    ),
    categories AS ({_top("items", "category", 3, "sum(quantity)", "category <> ''")}),
    dishes AS ({_top("items", "dish", 5, "sum(quantity)")}),
    tastes AS ({
        _top("items CROSS JOIN LATERAL unnest(tastes) AS taste", "taste", 3, "sum(quantity)")
    }),
    e AS MATERIALIZED (
        SELECT ev.id, ev.customer_id, ev.type, ev.channel, ev.device, ev.dish, ev.category,
               ev.session_id, ev.duration_seconds, ev.occurred_at AT TIME ZONE %(tz)s AS local_at
        FROM profiles_behaviourevent ev JOIN scope ON scope.id = ev.customer_id
    ),
    behaviour AS (
        SELECT customer_id,
               count(DISTINCT coalesce(nullif(session_id, ''), 'event ' || id)) AS visits,
               coalesce(sum(duration_seconds), 0) AS duration,
               count(*) FILTER (WHERE type = 'review') AS reviews,
               count(*) FILTER (WHERE type = 'share') AS shares,
               count(*) FILTER (WHERE type = 'favourite') AS favourites,
               avg((extract(isodow FROM local_at) >= 6)::int) AS weekend
        FROM e GROUP BY customer_id
    ),
    event_channels AS ({_top("e", "channel", 1)}),
    devices AS ({_top("e", "device", 1, where="device <> 'unknown'")}),
    browsed_categories AS ({_top("e", "category", 3, where="type = 'view' AND category <> ''")}),
    browsed_dishes AS ({_top("e", "dish", 5, where="type = 'view' AND dish <> ''")}),
    dayparts AS ({_top("e", daypart, 2)}),
    computed AS (
        SELECT scope.id AS customer_id,
               coalesce(t.n, 0) AS order_count,
               coalesce(t.spent, 0) AS total_spent,
               coalesce(t.aov, 0) AS avg_order_value,
               {_frequency()} AS frequency,
               {_price_range()} AS price_range,
               coalesce(categories.top, '{{}}') AS favourite_categories,
               coalesce(dishes.top, '{{}}') AS favourite_dishes,
               coalesce(tastes.top, '{{}}') AS favourite_tastes,
               coalesce(hours.top, '{{}}') AS peak_hours,
               coalesce(payments.top, '{{}}') AS payment_preferences,
               coalesce(order_channels.top[1], '') AS preferred_order_channel,
               coalesce(b.visits, 0) AS visit_count,
               coalesce(b.duration, 0) AS total_duration_seconds,
               coalesce(b.duration / nullif(b.visits, 0), 0) AS avg_session_seconds,
               coalesce(browsed_categories.top, '{{}}') AS browsed_categories,
               coalesce(browsed_dishes.top, '{{}}') AS browsed_dishes,
               coalesce(b.reviews, 0) AS reviews,
               coalesce(b.shares, 0) AS shares,
               coalesce(b.favourites, 0) AS favourites,
               coalesce(event_channels.top[1], '') AS preferred_channel,
               coalesce(devices.top[1], '') AS device,
               CASE WHEN b.customer_id IS NULL THEN '{{}}'
                    ELSE dayparts.top || CASE WHEN b.weekend >= 0.5 THEN 'weekend'
                                              ELSE 'weekday' END
               END AS browsing_pattern,
               {occupation} AS occupation_inferred,
               {occupation_confidence} AS occupation_confidence,
               {_income()} AS income_inferred,
               CASE WHEN t.n IS NOT NULL
                    THEN round(least(0.9, t.n::numeric / {ORDERS_FOR_FULL_CONFIDENCE}), 2)
               END AS income_confidence
        FROM scope
        LEFT JOIN totals t ON t.customer_id = scope.id
        LEFT JOIN hours ON hours.customer_id = scope.id
        LEFT JOIN payments ON payments.customer_id = scope.id
        LEFT JOIN order_channels ON order_channels.customer_id = scope.id
        LEFT JOIN categories ON categories.customer_id = scope.id
        LEFT JOIN dishes ON dishes.customer_id = scope.id
        LEFT JOIN tastes ON tastes.customer_id = scope.id
        LEFT JOIN behaviour b ON b.customer_id = scope.id
        LEFT JOIN event_channels ON event_channels.customer_id = scope.id
        LEFT JOIN devices ON devices.customer_id = scope.id
        LEFT JOIN browsed_categories ON browsed_categories.customer_id = scope.id
        LEFT JOIN browsed_dishes ON browsed_dishes.customer_id = scope.id
        LEFT JOIN dayparts ON dayparts.customer_id = scope.id
    )
    INSERT INTO profiles_customerprofile AS p
        (customer_id, {columns}, occupation_manual, income_manual, computed_at)
    SELECT customer_id, {columns}, '', '', %(now)s FROM computed
    ON CONFLICT (customer_id) DO UPDATE SET {updates}, computed_at = EXCLUDED.computed_at
    WHERE ({changed}) IS DISTINCT FROM ({incoming})
    """
