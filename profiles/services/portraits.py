"""Customer portraits (spec 2.4.1-2.4.3, 2.4.5, 4.4): computing, rebuilding and reading them.

- `refresh_customers(ids)`: the real-time update (spec 实时更新关键指标), run after an order, a
  refund or a batch of events is committed, for the customers concerned: their portraits, then
  their tag rules.
- `rebuild_portraits(full=...)`: the scheduled one (spec 定时更新完整画像), a JobRun: every customer
  (full) or only those with orders, refunds or events since the last run (incremental), in
  batches of customer ids, one statement per batch (profiles.services.portrait_sql).
- `portrait(customer)`: the portrait as the API and the admin tab show it, with what depends on
  today (age band, location, the period comparison) worked out on read.
- `portrait_annotate(...)`: staff set the occupation or income (spec 支持手动标注); audited.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from crm.audit import record_event
from crm.jobs import job_run
from crm.models import JobRun
from customers.models import Address, Customer, Order, OrderStatus, Refund
from profiles.models import BehaviourEvent, CustomerProfile
from profiles.services.portrait_sql import portrait_upsert_sql
from profiles.services.tag_rules import apply_tag_rules_to_customers

JOB_NAME = "profiles.rebuild_profiles"
FULL_JOB_NAME = "profiles.rebuild_profiles_full"
BATCH_SIZE = 100_000
# The batch's sorts (a top-N list per customer) spill to disk at the default 4 MB: 26 s instead
# of 36 s for 100k customers at 10 orders each with 256 MB (docs/performance.md).
BATCH_WORK_MEM = "256MB"
# The incremental run looks back this much before the last run began: an order committed
# while that run was going is then not missed.
OVERLAP = timedelta(minutes=10)
# Events arrive in batches, at most this late; later ones are caught by the refresh that their
# batch triggers and by the monthly full rebuild.
EVENT_LATENESS = timedelta(days=7)
AGE_BANDS = ((20, "<20"), (30, "20-30"), (40, "30-40"), (50, "40-50"), (60, "50-60"))


def refresh_portraits(customer_ids) -> int:
    """Recompute the portraits of `customer_ids` now; returns the rows that changed."""
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    return _upsert("c.id = ANY(%(ids)s)", {"ids": ids})


def rebuild_portraits(*, full: bool = False, batch_size: int = BATCH_SIZE) -> JobRun:
    """The scheduled rebuild, logged as a JobRun whose counts say its type, the customers in its
    scope, the rows that changed and the batches. Incremental without an earlier finished run is
    full. Safe to re-run: an unchanged customer's row is not written."""
    since = None if full else _last_run_start()
    with job_run(FULL_JOB_NAME if since is None else JOB_NAME) as run:
        run.counts = {"type": "incremental" if since else "full", "since": _iso(since)}
        if since is None:
            customers, batches = _full_batches(batch_size)
        else:
            customers, batches = _changed_batches(since, batch_size)
        updated = sum(_upsert(where, params) for where, params in batches)
        run.counts.update(customers=customers, updated=updated, batches=len(batches))
    return run


def _upsert(where: str, params: dict) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{BATCH_WORK_MEM}'")
        cursor.execute(
            portrait_upsert_sql(where),
            {**params, "tz": settings.TIME_ZONE, "now": timezone.now()},
        )
        return cursor.rowcount


def _last_run_start() -> datetime | None:
    last = (
        JobRun.objects.filter(name__in=[JOB_NAME, FULL_JOB_NAME], status=JobRun.Status.DONE)
        .order_by("-started_at")
        .first()
    )
    return last.started_at - OVERLAP if last else None


def _full_batches(batch_size: int) -> tuple[int, list]:
    """The customers, and ranges of their ids: each batch's orders are read through the
    customer index."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(id), max(id), count(*) FILTER (WHERE erased_at IS NULL) "
            "FROM customers_customer"
        )
        low, high, count = cursor.fetchone()
    if low is None:
        return 0, []
    where = "c.id BETWEEN %(low)s AND %(high)s"
    starts = range(low, high + 1, batch_size)
    return count, [(where, {"low": s, "high": min(s + batch_size - 1, high)}) for s in starts]


def _changed_batches(since: datetime, batch_size: int) -> tuple[int, list]:
    changed = sorted(_changed_customers(since))
    starts = range(0, len(changed), batch_size)
    batches = [("c.id = ANY(%(ids)s)", {"ids": changed[s : s + batch_size]}) for s in starts]
    return len(changed), batches


def _changed_customers(since: datetime) -> set[int]:
    """The customers with an order recorded, a refund or an event received since `since`."""
    orders = Order.objects.filter(created_at__gte=since).values_list("customer_id", flat=True)
    refunds = Refund.objects.filter(created_at__gte=since).values_list(
        "order__customer_id", flat=True
    )
    events = BehaviourEvent.objects.filter(
        occurred_at__gte=since - EVENT_LATENESS, received_at__gte=since
    ).values_list("customer_id", flat=True)
    return set(orders.distinct()) | set(refunds.distinct()) | set(events.distinct())


def refresh_customers(customer_ids) -> None:
    """After an order, a refund or a batch of events is committed: the portraits first, then
    the tag rules, whose conditions may read them (profiles.conditions)."""
    refresh_portraits(customer_ids)
    apply_tag_rules_to_customers(customer_ids)


def on_order_recorded(*, order, customer) -> None:
    """Order hook: the customer's spend, frequency, last visit, favourites and tags at once."""
    refresh_customers([customer.pk])


def on_order_refunded(*, order, refund) -> None:
    refresh_customers([order.customer_id])


def erase_customer_portrait(*, customer) -> None:
    """An erasure hook: the portrait goes with the person (the anonymised orders stay)."""
    CustomerProfile.objects.filter(customer_id=customer.pk).delete()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive


def portrait(customer: Customer, *, days: int = 90, today: date | None = None) -> dict:
    """The portrait of `customer` in the API's terms (spec 4.4) before serialisation."""
    # No row yet: a customer created since the last rebuild with neither orders nor events
    # (an order or an event batch writes the row at once), whose portrait is the empty one.
    profile = CustomerProfile.objects.filter(customer_id=customer.pk).first() or CustomerProfile(
        customer=customer
    )
    today = today or timezone.localdate()
    return {
        "customer": customer,
        "profile": profile,
        "age": age_band(customer.birthday, today),
        "location": _location(customer.pk),
        "occupation": _choice(profile.occupation_manual, profile.occupation_inferred),
        "occupation_confidence": _confidence(
            profile.occupation_manual, profile.occupation_confidence
        ),
        "income": _choice(profile.income_manual, profile.income_inferred),
        "income_confidence": _confidence(profile.income_manual, profile.income_confidence),
        "comparison": period_comparison(customer.pk, days=days, today=today),
    }


def _choice(manual: str, inferred: str) -> dict:
    if manual:
        return {"value": manual, "source": "manual"}
    if inferred:
        return {"value": inferred, "source": "inferred"}
    return {"value": None, "source": None}


def _confidence(manual: str, inferred: Decimal | None) -> Decimal | None:
    # A value staff set is not a guess.
    return Decimal(1) if manual else inferred


def age_band(birthday: date | None, today: date) -> str | None:
    if birthday is None:
        return None
    age = today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))
    for limit, label in AGE_BANDS:
        if age < limit:
            return label
    return "60+"


def _location(customer_id: int) -> str | None:
    """The city of the default address, else of the newest one (province when no city)."""
    address = (
        Address.objects.filter(customer_id=customer_id)
        .order_by("-is_default", "-created_at", "-id")
        .values("city", "province")
        .first()
    )
    if address is None:
        return None
    return address["city"] or address["province"] or None


def period_comparison(customer_id: int, *, days: int, today: date) -> dict:
    """Orders and spend in the last `days` days (today included), the `days` before them and
    the same days a year earlier (spec 支持同期对比): one query over the customer's orders."""
    current = Period(today - timedelta(days=days - 1), today)
    previous = Period(current.start - timedelta(days=days), current.start - timedelta(days=1))
    last_year = Period(_year_earlier(current.start), _year_earlier(current.end))
    periods = {"current": current, "previous_period": previous, "same_period_last_year": last_year}
    paid = Q(status__in=[OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED])
    aggregates = {}
    for key, period in periods.items():
        end = _start(period.end + timedelta(days=1))
        within = paid & Q(placed_at__gte=_start(period.start), placed_at__lt=end)
        aggregates[f"{key}_orders"] = Count("id", filter=within)
        aggregates[f"{key}_spent"] = Sum(_net(), filter=within, default=Decimal("0.00"))
    figures = Order.objects.filter(customer_id=customer_id).aggregate(**aggregates)
    return {
        "days": days,
        **{
            key: {
                "start": period.start,
                "end": period.end,
                "orders": figures[f"{key}_orders"],
                "spent": figures[f"{key}_spent"],
            }
            for key, period in periods.items()
        },
    }


def _net():
    return F("amount") - F("discount") - F("refunded_amount")


def _start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _year_earlier(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


# --- staff annotation --------------------------------------------------------------------------


def portrait_annotate(*, customer: Customer, actor, changes: dict) -> CustomerProfile:
    """Set (or, with "", clear) the occupation and/or income staff know: `changes` holds
    occupation_manual and/or income_manual. A manual value wins over the inferred one; the
    rebuild never overwrites it. Audited with the old and new values."""
    with transaction.atomic():
        profiles = CustomerProfile.objects.select_for_update()
        if not profiles.filter(customer_id=customer.pk).exists():
            refresh_portraits([customer.pk])
        profile = profiles.get(customer_id=customer.pk)
        before = {field: getattr(profile, field) for field in changes}
        for field, value in changes.items():
            setattr(profile, field, value)
        profile.manual_by = actor
        profile.manual_at = timezone.now()
        profile.save(update_fields=[*changes, "manual_by", "manual_at"])
        record_event(
            action="update", actor=actor, obj=profile, summary={"before": before, "after": changes}
        )
    return profile
