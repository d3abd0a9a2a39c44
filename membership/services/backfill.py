"""Bringing data from outside the ledger under its rules: customers loaded by the demo, the data
generator or an import from a previous system carry points that no ledger entry explains, and a
tier that no rule chose.

`backfill_membership` writes one opening-balance lot for each customer with points and an empty
ledger (kind adjust, expiring by the points policy as if earned today), so that
`Customer.points` equals the sum of the ledger again; then it evaluates every customer's tier
with the nightly rules (an upgrade at once, a downgrade only after the tier's grace period).
Both steps are idempotent: a second run writes no lot and finds no tier to change.
"""

from dataclasses import dataclass
from datetime import date

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.i18n import in_default_language
from membership.models import PointsKind, PointsPolicy
from membership.services.points import expiry_date
from membership.services.tiers import EvaluationResult, evaluate_levels


@dataclass(frozen=True)
class BackfillResult:
    opening_lots: int
    opening_points: int
    evaluation: EvaluationResult


def backfill_membership(*, today: date | None = None) -> BackfillResult:
    """Write the missing opening balances, then evaluate every customer's tier."""
    today = today or timezone.localdate()
    params = {
        "kind": PointsKind.ADJUST,
        "reason": in_default_language(_("Opening balance")),
        "expires_on": expiry_date(today, PointsPolicy.current().expiry_months),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # The key makes a concurrent second run write nothing twice; the empty ledger alone
        # would not, as neither run sees the other's rows before it commits.
        cursor.execute(
            """
            WITH lots AS (
                INSERT INTO membership_pointsentry
                    (customer_id, delta, kind, reason, idempotency_key, request_fingerprint,
                     balance_after, remaining, expires_on, created_at)
                SELECT c.id, c.points, %(kind)s, %(reason)s, 'opening:' || c.id, '',
                       c.points, c.points, %(expires_on)s, now()
                FROM customers_customer c
                WHERE c.points > 0 AND NOT EXISTS (
                    SELECT FROM membership_pointsentry e WHERE e.customer_id = c.id
                )
                ON CONFLICT (idempotency_key) DO NOTHING
                RETURNING delta
            )
            SELECT count(*), coalesce(sum(delta), 0) FROM lots
            """,
            params,
        )
        lots, points = cursor.fetchone()
    if lots:
        # A ledger that was empty has just received most of its rows: without statistics the
        # planner takes it for empty, and the points expiry then scans it for minutes.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE membership_pointsentry")
    return BackfillResult(
        opening_lots=lots, opening_points=points, evaluation=evaluate_levels(today=today)
    )
