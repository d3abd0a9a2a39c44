"""Reads over segments: an RFM run's report and customers, the condition fields, a segment's
members and its analysis."""

from decimal import Decimal

from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.conditions import condition_fields
from customers.levels import level_choices
from customers.models import Customer, Gender, OrderChannel
from segments.models import RfmClass, RfmRun, RfmScore, Segment, SegmentMember
from segments.services.analysis import all_customers_portrait

TREND_POINTS = 90


def rfm_run_report(run: RfmRun) -> dict:
    """The run's tiers with their shares of the customers and of the spend and a description of
    each (分级特征) in the active language, and its classes with their labels."""
    summary = run.summary or {}
    scored = summary.get("scored", 0)
    spend = Decimal(summary.get("spend", "0"))
    tiers = []
    for row in summary.get("tiers", []):
        share = row["count"] / scored if scored else 0
        spend_share = float(Decimal(row["spend"]) / spend) if spend else 0
        tiers.append(
            {
                **row,
                "share": round(share, 4),
                "spendShare": round(spend_share, 4),
                "description": _describe_tier(row, share, spend_share),
            }
        )
    labels = dict(RfmClass.choices)
    classes = [{**row, "label": str(labels[row["class"]])} for row in summary.get("classes", [])]
    return {"tiers": tiers, "classes": classes}


def _describe_tier(row: dict, share: float, spend_share: float) -> str:
    if not row["count"]:
        return _("No customer in this tier.")
    return _(
        "Last order %(days)s days before the end of the range on average, %(orders)s orders, "
        "¥%(spend)s spent each; %(share)s%% of the customers bring %(spend_share)s%% of the spend."
    ) % {
        "days": _one_decimal(row["avgRecencyDays"]),
        "orders": _one_decimal(row["avgFrequency"]),
        "spend": number_format(Decimal(row["avgMonetary"]), 2, force_grouping=True),
        "share": _one_decimal(share * 100),
        "spend_share": _one_decimal(spend_share * 100),
    }


def _one_decimal(value: float) -> str:
    # number_format cuts digits off: round first.
    return number_format(round(value, 1), 1)


def rfm_run_customers(*, run: RfmRun) -> QuerySet:
    """The run's scored customers, best first, with their number and name; the index
    rfm_score_tier_idx serves a tier's page."""
    return (
        RfmScore.objects.filter(run=run)
        .annotate(customer_no=F("customer__customer_no"), customer_name=F("customer__name"))
        .order_by("tier", "-score", "customer_id")
    )


def condition_field_catalogue() -> list[dict]:
    """The fields a condition may name (customers.conditions), as a builder shows them."""
    return [
        {
            "name": field.name,
            "label": str(field.label),
            "kind": str(field.kind),
            "group": field.group,
            "operators": list(field.operators),
            "choices": (
                [{"value": value, "label": str(label)} for value, label in field.choices()]
                if field.choices
                else None
            ),
        }
        for field in condition_fields().values()
    ]


def segment_members(segment: Segment) -> QuerySet:
    """The customers stored as the segment's members at its last refresh, newest first; the
    primary key (segment_id, customer_id) serves the semi-join."""
    members = SegmentMember.objects.filter(segment=segment, customer=OuterRef("pk"))
    return Customer.objects.filter(Exists(members)).order_by("-created_at", "-id")


# The figures a comparison sets side by side, with the difference of the segment's and the
# other's value.
COMPARED = ("count", "avgSpend", "medianSpend", "avgOrders", "avgOrderValue", "activeShare")


def segment_analysis(segment: Segment, *, compare_with=None, everyone: dict | None = None) -> dict:
    """The segment's portrait as of its last refresh, its trend over the snapshots (oldest
    first), and with `compare_with` (another Segment, or "all") a side-by-side comparison;
    `everyone` is the all-customers portrait when the caller already has it."""
    snapshots = list(segment.snapshots.order_by("-taken_at", "-id")[:TREND_POINTS])
    latest = snapshots[0] if snapshots else None
    mine = latest.stats if latest else {}
    result = {
        "segment": {"id": str(segment.pk), "name": segment.name},
        "refreshedAt": latest.taken_at if latest else None,
        "portrait": mine,
        "trend": [
            {
                "at": snapshot.taken_at,
                "count": snapshot.count,
                "added": snapshot.added,
                "removed": snapshot.removed,
                "avgSpend": snapshot.stats.get("avgSpend"),
                "activeShare": snapshot.stats.get("activeShare"),
            }
            for snapshot in reversed(snapshots)
        ],
        "comparison": None,
    }
    if compare_with is not None:
        if compare_with == "all":
            other, other_name = everyone or all_customers_portrait(), "all"
        else:
            other_snapshot = compare_with.snapshots.order_by("-taken_at", "-id").first()
            other, other_name = (other_snapshot.stats if other_snapshot else {}), compare_with.name
        result["comparison"] = {
            "with": other_name,
            "portrait": other,
            "metrics": [
                {
                    "metric": metric,
                    "segment": mine.get(metric),
                    "other": other.get(metric),
                    "difference": _difference(mine.get(metric), other.get(metric)),
                }
                for metric in COMPARED
            ],
        }
    return result


def _difference(mine, other):
    """Counts as integers, shares as floats, money as strings of yuan (as the portrait has them)."""
    if mine is None or other is None:
        return None
    if isinstance(mine, str):
        return str(Decimal(mine) - Decimal(other))
    return round(mine - other, 4) if isinstance(mine, float) else mine - other


def segment_report(segment: Segment, *, everyone: dict | None = None) -> dict:
    """The segment's analysis beside all customers, ready to show (the admin page and the
    nightly report): each compared figure with its label, and the mixes as bar rows.
    `everyone` is the all-customers portrait when the caller already has it."""
    analysis = segment_analysis(segment, compare_with="all", everyone=everyone)
    metrics = (analysis["comparison"] or {}).get("metrics", [])
    return {
        **analysis,
        "description": segment.description,
        "mixes": portrait_mixes(analysis["portrait"]),
        "metrics": [{**row, "label": METRIC_LABELS[row["metric"]]} for row in metrics],
    }


def portrait_mixes(portrait: dict) -> list[tuple[str, list[tuple[str, int, float]]]]:
    """The portrait's mixes as (title, [(label, count, share of the mix)]) for the bar charts."""

    def by_count(counts: dict) -> list[tuple[str, int]]:
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    mixes = [
        (_("Tiers"), by_count(portrait.get("levels", {})), dict(level_choices())),
        (_("Gender"), by_count(portrait.get("genders", {})), dict(Gender.choices)),
        (
            _("Age"),
            [(row["band"], row["count"]) for row in portrait.get("ageBands", [])],
            {"unknown": _("Unknown")},
        ),
        (
            _("Channels (orders)"),
            by_count(portrait.get("channels", {})),
            dict(OrderChannel.choices),
        ),
        (
            _("Top dish categories (items)"),
            [(row["category"], row["quantity"]) for row in portrait.get("topCategories", [])],
            {},
        ),
    ]
    result = []
    for title, counts, labels in mixes:
        total = sum(count for _key, count in counts)
        rows = [
            (str(labels.get(key, key)), count, round(count / total, 4) if total else 0)
            for key, count in counts
        ]
        result.append((title, rows))
    return result


METRIC_LABELS = {
    "count": gettext_lazy("Customers"),
    "avgSpend": gettext_lazy("Average total spent"),
    "medianSpend": gettext_lazy("Median total spent"),
    "avgOrders": gettext_lazy("Average orders"),
    "avgOrderValue": gettext_lazy("Average order value"),
    "activeShare": gettext_lazy("Share who ordered in the last 90 days"),
}
