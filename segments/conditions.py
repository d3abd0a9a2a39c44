"""What segments adds to the core's customer queries, registered in SegmentsConfig.ready: the
condition fields of the latest RFM run's tier and class (customers.conditions), and the customer
list's `segment` filter (customers.filters)."""

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from crm.api.inputs import BIGINT_MAX
from customers.conditions import ConditionField, Kind
from customers.conditions.fields import column_q
from segments.models import MAX_TIERS, RfmClass, RfmScore, Segment, SegmentMember
from segments.services.rfm import latest_run


def _latest_score(column: str):
    def to_q(operator: str, value) -> Q:
        run = latest_run()
        if run is None:
            return Q(pk__in=[])  # no RFM run yet: nobody has a tier
        scores = RfmScore.objects.filter(run=run, customer=OuterRef("pk"))
        if operator == "ne":  # customers without a score are not in that tier either
            return ~Exists(scores.filter(**{column: value}))
        return Q(Exists(scores.filter(column_q(column)(operator, value))))

    return to_q


RFM_FIELDS = [
    ConditionField(
        "rfmTier",
        _("RFM tier (latest run)"),
        Kind.NUMBER,
        _latest_score("tier"),
        group="rfm",
        low=1,
        high=MAX_TIERS,
    ),
    ConditionField(
        "rfmClass",
        _("RFM class (latest run)"),
        Kind.CHOICE,
        _latest_score("rfm_class"),
        choices=lambda: list(RfmClass.choices),
        group="rfm",
    ),
]


def _in_segment(queryset, name, value):
    if not Segment.objects.filter(pk=value).exists():
        raise ValidationError({"segment": [_("No segment with this id.")]})
    members = SegmentMember.objects.filter(segment_id=value, customer=OuterRef("pk"))
    return queryset.filter(Exists(members))


class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


def segment_filter() -> django_filters.Filter:
    """`segment=<id>` on the customer list: the segment's members as of its last refresh."""
    return IdFilter(
        method=_in_segment,
        min_value=1,
        max_value=BIGINT_MAX,
        label=_("Segment id: its customers as of the last refresh"),
    )
