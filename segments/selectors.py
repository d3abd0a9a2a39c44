"""Reads over segments: an RFM run's report and its customers."""

from decimal import Decimal

from django.db.models import F, QuerySet
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from segments.models import RfmClass, RfmRun, RfmScore


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
