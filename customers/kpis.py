"""The four customer KPIs of the dashboard (spec 6.1): total, new, VIP, active rate.

All eight figures (each KPI now and for the previous period) come from one aggregate query with
FILTER clauses over live (not archived) customers. At 1M customers that is one sequential scan
(about 100 ms), so the result is cached for CACHE_SECONDS.

Periods: "new" compares the last 30 days with the 30 days before; "total" and "VIP" compare now
with 30 days ago, counting the customers created by then (today's level and status stand in for
the past ones, which are not kept on the row). The active rate is the share of live customers
with an order in the last 90 days; 30 days ago it is estimated from the order dates on the row
(last order in the 90 days before that day, or a first order before it and a last order after
it), until daily statistics can answer exactly.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.cache import cache
from django.db.models import Count, Q
from django.utils import timezone

from customers.models import Customer, CustomerLevel

PERIOD = timedelta(days=30)
ACTIVE_WINDOW = timedelta(days=90)
VIP_LEVELS = (CustomerLevel.VIP, CustomerLevel.SVIP)
CACHE_KEY = "customers:dashboard-kpis:v1"
CACHE_SECONDS = 5 * 60


@dataclass(frozen=True)
class Kpi:
    key: str
    value: Decimal | int
    previous: Decimal | int
    # Relative change in % for counts; difference in percentage points for the rate. None when
    # there is nothing to compare with (a previous value of 0).
    change: Decimal | None
    is_rate: bool = False


def customer_kpis(*, now: datetime | None = None, use_cache: bool = True) -> list[Kpi]:
    """The dashboard KPIs, from the cache when fresh (at most CACHE_SECONDS old)."""
    if use_cache and now is None:
        cached = cache.get(CACHE_KEY)
        if cached is not None:
            return cached
    kpis = compute_kpis(now=now or timezone.now())
    if use_cache and now is None:
        cache.set(CACHE_KEY, kpis, CACHE_SECONDS)
    return kpis


def compute_kpis(*, now: datetime) -> list[Kpi]:
    """One query: every figure is a COUNT with a FILTER over the live customers."""
    then = now - PERIOD
    vip = Q(level__in=VIP_LEVELS)
    counts = Customer.objects.live().aggregate(
        total=Count("id"),
        total_before=Count("id", filter=Q(created_at__lte=then)),
        new=Count("id", filter=Q(created_at__gt=then)),
        new_before=Count("id", filter=Q(created_at__gt=then - PERIOD, created_at__lte=then)),
        vip=Count("id", filter=vip),
        vip_before=Count("id", filter=vip & Q(created_at__lte=then)),
        active=Count("id", filter=Q(last_order_date__gt=now - ACTIVE_WINDOW)),
        active_before=Count(
            "id",
            filter=Q(created_at__lte=then)
            & (
                Q(last_order_date__gt=then - ACTIVE_WINDOW, last_order_date__lte=then)
                | Q(first_order_date__lte=then, last_order_date__gt=then)
            ),
        ),
    )
    rate = _rate(counts["active"], counts["total"])
    rate_before = _rate(counts["active_before"], counts["total_before"])
    return [
        _count_kpi("total", counts["total"], counts["total_before"]),
        _count_kpi("new", counts["new"], counts["new_before"]),
        _count_kpi("vip", counts["vip"], counts["vip_before"]),
        Kpi(
            key="active_rate",
            value=rate,
            previous=rate_before,
            change=(rate - rate_before) if counts["total_before"] else None,
            is_rate=True,
        ),
    ]


def _count_kpi(key: str, value: int, previous: int) -> Kpi:
    change = _round(Decimal(value - previous) * 100 / previous) if previous else None
    return Kpi(key=key, value=value, previous=previous, change=change)


def _rate(part: int, whole: int) -> Decimal:
    """A percentage with one decimal; 0 when there is no one to count."""
    return _round(Decimal(part) * 100 / whole) if whole else Decimal("0.0")


def _round(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
