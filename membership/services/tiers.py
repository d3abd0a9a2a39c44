"""Tier evaluation (spec 2.2.3): which tier each customer belongs in, by the tiers' rules.

One service serves both paths (the issue: "both call the same service"): right after an order
(`evaluate_levels(customer_ids=[id], allow_downgrade=False)`: an upgrade takes effect at once) and
nightly for everyone (`evaluate_levels()`: downgrades, grace periods, expired memberships).

It reads each customer's figures with one SQL query (spend and order count per rule window from
the orders, points and lifetime totals from the customer row, the grace period and the active
membership), decides in Python with `decide` (pure, so the edges of every rule are tested
directly), and writes only what changed: the `level` of changed customers (levels.swap_levels,
one UPDATE that also checks nobody changed the level meanwhile), a LevelChange row each, and the
grace periods.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.i18n import in_default_language
from membership.models import ChangeKind, ConditionMatch, LevelChange, MembershipLevel, TierGrace
from membership.services.levels import swap_levels

LIFETIME = 0  # window_days meaning "all orders": read from the customer's lifetime totals


@dataclass(frozen=True)
class Figures:
    """What the tier rules look at for one customer; spend and orders by window (days)."""

    points: int
    spent: dict[int, Decimal]
    orders: dict[int, int]


@dataclass(frozen=True)
class TierRule:
    code: str
    rank: int
    match: str
    window_days: int
    min_spent: Decimal | None
    min_orders: int | None
    min_points: int | None
    retain_min_spent: Decimal | None
    retain_min_orders: int | None
    grace_days: int
    downgrade_to: str | None

    @classmethod
    def of(cls, level: MembershipLevel, codes_by_id: dict[int, str]) -> "TierRule":
        return cls(
            code=level.code,
            rank=level.sort_order,
            match=level.condition_match,
            window_days=level.window_days,
            min_spent=level.min_spent,
            min_orders=level.min_orders,
            min_points=level.min_points,
            retain_min_spent=level.retain_min_spent,
            retain_min_orders=level.retain_min_orders,
            grace_days=level.grace_days,
            downgrade_to=codes_by_id.get(level.downgrade_to_id),
        )

    @property
    def reads_orders(self) -> bool:
        thresholds = (
            self.min_spent,
            self.min_orders,
            self.retain_min_spent,
            self.retain_min_orders,
        )
        return any(v is not None for v in thresholds)

    def reached(self, figures: Figures) -> bool:
        """Whether the upgrade conditions are met (a tier without conditions: always)."""
        return self._meets(figures, self.min_spent, self.min_orders, self.min_points)

    def retained(self, figures: Figures) -> bool:
        """Whether the retention conditions (else the upgrade ones) are met."""
        if self.retain_min_spent is None and self.retain_min_orders is None:
            return self.reached(figures)
        return self._meets(figures, self.retain_min_spent, self.retain_min_orders, None)

    def _meets(self, figures, spent, orders, points) -> bool:
        checks = []
        if spent is not None:
            checks.append(figures.spent[self.window_days] >= spent)
        if orders is not None:
            checks.append(figures.orders[self.window_days] >= orders)
        if points is not None:
            checks.append(figures.points >= points)
        if not checks:
            return True
        return all(checks) if self.match == ConditionMatch.ALL else any(checks)


@dataclass(frozen=True)
class Standing:
    """A customer as the rules see them: tier, figures, grace period and membership tier."""

    customer_id: int
    level: str
    figures: Figures
    grace_until: date | None = None
    membership_level: str | None = None


class Outcome:
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    MEMBERSHIP = "membership"
    UNKNOWN_TIER = "unknown_tier"
    GRACE_STARTED = "grace_started"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Decision:
    level: str
    grace_until: date | None
    outcome: str


def decide(rules: list[TierRule], standing: Standing, *, today: date, allow_downgrade: bool):
    """The customer's tier by the rules; `rules` from the lowest rank to the highest.

    - The best tier whose upgrade conditions are met is "earned"; above the current tier, it is
      taken at once.
    - Below it, the current tier is kept while its retention conditions hold; when they fail,
      the grace period starts (today + grace_days); when it has passed and they still fail, the
      customer goes to the tier's downgrade target, but never below the earned tier.
    - An active membership's tier is a floor: the customer is never below it, and while it
      holds the current tier no grace period runs.
    - A customer whose tier no longer exists is treated as in the base tier, so they move to
      the tier they earn.
    """
    by_code = {rule.code: rule for rule in rules}
    base = rules[0]
    current = by_code.get(standing.level, base)
    unknown = standing.level not in by_code
    figures = standing.figures
    earned = base
    for rule in reversed(rules):
        if rule.reached(figures):
            earned = rule
            break
    floor = by_code.get(standing.membership_level)
    grace = standing.grace_until
    outcome = Outcome.UNCHANGED
    new = current
    if earned.rank > current.rank:
        new, grace, outcome = earned, None, Outcome.UPGRADE
    elif (
        earned.rank == current.rank
        or current.retained(figures)
        or (floor is not None and floor.rank >= current.rank)
    ):
        grace = None
    elif allow_downgrade:
        if grace is None and current.grace_days > 0:
            grace, outcome = today + timedelta(days=current.grace_days), Outcome.GRACE_STARTED
        elif grace is None or today > grace:
            target = by_code.get(current.downgrade_to, earned)
            # A target at or above the tier itself (a misconfigured tier) is no downgrade.
            below = earned.rank < target.rank < current.rank
            new = target if below else earned
            grace, outcome = None, Outcome.DOWNGRADE
    if floor is not None and floor.rank > new.rank:
        new, grace, outcome = floor, None, Outcome.MEMBERSHIP
    elif unknown and outcome == Outcome.UNCHANGED:
        outcome = Outcome.UNKNOWN_TIER
    return Decision(level=new.code, grace_until=grace, outcome=outcome)


def tier_rules() -> list[TierRule]:
    levels = list(MembershipLevel.objects.order_by("sort_order"))
    codes_by_id = {level.pk: level.code for level in levels}
    return [TierRule.of(level, codes_by_id) for level in levels]


@dataclass
class EvaluationResult:
    evaluated: int = 0
    upgraded: int = 0
    downgraded: int = 0
    grace_started: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "evaluated": self.evaluated,
            "upgraded": self.upgraded,
            "downgraded": self.downgraded,
            "grace_started": self.grace_started,
        }


def evaluate_levels(
    *,
    customer_ids: list[int] | None = None,
    allow_downgrade: bool = True,
    today: date | None = None,
    batch: int = 20_000,
) -> EvaluationResult:
    """Evaluate the given customers (default: every live customer) and apply what changed."""
    today = today or timezone.localdate()
    rules = tier_rules()
    result = EvaluationResult()
    if not rules:
        return result
    # (customer id, level read, decision): not the Standing, whose figures would hold memory
    # for every changed customer until the writes.
    changes: list[tuple[int, str, Decision]] = []
    grace_changes: list[tuple[int, str, Decision]] = []
    for standing in _standings(rules, customer_ids, today, batch):
        result.evaluated += 1
        decision = decide(rules, standing, today=today, allow_downgrade=allow_downgrade)
        if decision.level != standing.level:
            changes.append((standing.customer_id, standing.level, decision))
        elif decision.grace_until != standing.grace_until:
            grace_changes.append((standing.customer_id, standing.level, decision))
    for start in range(0, len(changes), batch):
        _apply_level_changes(changes[start : start + batch], rules, result)
    for start in range(0, len(grace_changes), batch):
        _apply_grace(grace_changes[start : start + batch], result)
    return result


def _standings(rules, customer_ids, today, batch):
    """Stream every customer's Standing from one query (a server-side cursor)."""
    windows = sorted(
        {rule.window_days for rule in rules if rule.window_days != LIFETIME and rule.reads_orders}
    )
    sql, params = _standings_sql(windows, customer_ids, today)
    with transaction.atomic():
        cursor = connection.chunked_cursor()
        try:
            # One hash aggregate over the window's orders; the default 4 MB would spill to disk.
            # The cursor is read to the end: planned for its first 10% of rows (the default),
            # it walks the orders by an index instead, 3x slower at 1M customers.
            with connection.cursor() as setter:
                setter.execute("SET LOCAL work_mem = '256MB'")
                setter.execute("SET LOCAL cursor_tuple_fraction = 1")
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(batch):
                for row in rows:
                    yield _standing(row, windows)
        finally:
            cursor.close()


def _standings_sql(windows: list[int], customer_ids, today: date):
    params: dict = {"today": today}
    columns, orders_join = [], ""
    if windows:
        aggregates = []
        for window in windows:
            params[f"cut{window}"] = _window_start(today, window)
            aggregates.append(
                f"sum(amount - discount - refunded_amount) FILTER "
                f"(WHERE placed_at >= %(cut{window})s) AS spent{window}, "
                f"count(*) FILTER (WHERE placed_at >= %(cut{window})s "
                f"AND status <> 'refunded') AS orders{window}"
            )
            columns.append(f"coalesce(o.spent{window}, 0), coalesce(o.orders{window}, 0)")
        params["since"] = _window_start(today, max(windows))
        only_ids = "AND customer_id = ANY(%(ids)s)" if customer_ids is not None else ""
        orders_join = (
            "LEFT JOIN (SELECT customer_id, "
            + ", ".join(aggregates)
            + f" FROM customers_order WHERE placed_at >= %(since)s {only_ids}"
            " GROUP BY customer_id) o ON o.customer_id = c.id"
        )
    where = "c.status <> 'archived' AND c.erased_at IS NULL"
    if customer_ids is not None:
        params["ids"] = list(customer_ids)
        where += " AND c.id = ANY(%(ids)s)"
    extra = (", " + ", ".join(columns)) if columns else ""
    sql = f"""
        SELECT c.id, c.level, c.points, c.total_spent, c.order_count,
               g.level, g.grace_until, m.code{extra}
        FROM customers_customer c
        {orders_join}
        LEFT JOIN membership_tiergrace g ON g.customer_id = c.id
        LEFT JOIN (
            SELECT ms.customer_id, l.code FROM membership_membership ms
            JOIN membership_membershiplevel l ON l.id = ms.level_id
            WHERE ms.status = 'active' AND ms.start_date <= %(today)s AND ms.end_date > %(today)s
        ) m ON m.customer_id = c.id
        WHERE {where}
    """
    return sql, params


def _window_start(today: date, window_days: int) -> datetime:
    return timezone.make_aware(datetime.combine(today - timedelta(days=window_days), time.min))


def _standing(row, windows) -> Standing:
    customer_id, level, points, total_spent, order_count, grace_level, grace_until, floor = row[:8]
    spent = {LIFETIME: total_spent}
    orders = {LIFETIME: order_count}
    for i, window in enumerate(windows):
        spent[window] = row[8 + 2 * i]
        orders[window] = row[9 + 2 * i]
    return Standing(
        customer_id=customer_id,
        level=level,
        figures=Figures(points=points, spent=spent, orders=orders),
        # A grace period belongs to the tier it was started for.
        grace_until=grace_until if grace_level == level else None,
        membership_level=floor,
    )


_REASONS = {
    Outcome.UPGRADE: _("Upgraded: the conditions of this tier are met"),
    Outcome.DOWNGRADE: _("Downgraded: the conditions that keep the tier were not met"),
    Outcome.MEMBERSHIP: _("Set by an active membership"),
    Outcome.UNKNOWN_TIER: _("Moved to the base tier: the previous tier no longer exists"),
}


def _apply_level_changes(changes, rules, result: EvaluationResult) -> None:
    ranks = {rule.code: rule.rank for rule in rules}
    base_rank = rules[0].rank
    with transaction.atomic():
        applied = swap_levels(
            [(customer_id, old, decision.level) for customer_id, old, decision in changes]
        )
        reasons = {outcome: in_default_language(text) for outcome, text in _REASONS.items()}
        records = []
        for customer_id, old, decision in changes:
            if customer_id not in applied:
                continue
            # A tier that no longer exists counts as the base tier, as in decide.
            if ranks[decision.level] > ranks.get(old, base_rank):
                result.upgraded += 1
            else:
                result.downgraded += 1
            records.append(
                LevelChange(
                    customer_id=customer_id,
                    from_level=old,
                    to_level=decision.level,
                    kind=ChangeKind.AUTOMATIC,
                    reason=reasons[decision.outcome],
                )
            )
        LevelChange.objects.bulk_create(records)
        TierGrace.objects.filter(customer_id__in=applied).delete()


def _apply_grace(changes, result: EvaluationResult) -> None:
    with transaction.atomic():
        ended = [customer_id for customer_id, _level, d in changes if d.grace_until is None]
        TierGrace.objects.filter(customer_id__in=ended).delete()
        started = [
            TierGrace(customer_id=customer_id, level=level, grace_until=d.grace_until)
            for customer_id, level, d in changes
            if d.grace_until is not None
        ]
        TierGrace.objects.bulk_create(
            started,
            update_conflicts=True,
            unique_fields=["customer"],
            update_fields=["level", "grace_until"],
        )
        result.grace_started += len(started)
