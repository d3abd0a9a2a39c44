"""Segmentation tables (spec 2.3, 5.3): RFM runs and their per-customer scores; segments, their
stored members and their snapshots.

Scores live in a narrow table of their own, one row per scored customer and run, never in the
wide customers table (a 1M-row UPDATE there costs 43-53 s: reference/postgres-limits.md).
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from customers.models import JobStatus

MIN_TIERS = 3
MAX_TIERS = 10
MAX_WEIGHT = 100


class RfmClass(models.TextChoices):
    """The eight classes of Chinese retail practice: whether the customer's R, F and M scores
    are above the run's average (R above = more recent)."""

    IMPORTANT_VALUE = "important_value", _("Important value")
    IMPORTANT_DEVELOP = "important_develop", _("Important to develop")
    IMPORTANT_KEEP = "important_keep", _("Important to keep")
    IMPORTANT_RETAIN = "important_retain", _("Important to win back")
    GENERAL_VALUE = "general_value", _("General value")
    GENERAL_DEVELOP = "general_develop", _("General to develop")
    GENERAL_KEEP = "general_keep", _("General to keep")
    GENERAL_RETAIN = "general_retain", _("General to win back")


class RfmRun(models.Model):
    """One RFM analysis over a date range: its parameters, its state and its summary."""

    # The lifecycle of imports and exports: pending, running, done, failed.
    Status = JobStatus

    start = models.DateField(_("first day"))
    end = models.DateField(_("last day"))
    tiers = models.PositiveSmallIntegerField(
        _("tiers"),
        default=5,
        validators=[MinValueValidator(MIN_TIERS), MaxValueValidator(MAX_TIERS)],
    )
    weight_r = models.DecimalField(_("weight of R"), max_digits=5, decimal_places=2, default=1)
    weight_f = models.DecimalField(_("weight of F"), max_digits=5, decimal_places=2, default=1)
    weight_m = models.DecimalField(_("weight of M"), max_digits=5, decimal_places=2, default=1)
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    scored = models.PositiveIntegerField(_("customers scored"), default=0)
    unscored = models.PositiveIntegerField(_("customers without orders in the range"), default=0)
    # Per tier and per class: counts and averages, written once when the run is done.
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    # Set when the run's scores were deleted to keep only the newest runs' (services.rfm).
    scores_purged_at = models.DateTimeField(_("scores purged at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("started at"), default=timezone.now, editable=False)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("RFM run")
        verbose_name_plural = _("RFM runs")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gte=models.F("start")), name="rfm_run_range"),
            models.CheckConstraint(
                condition=Q(tiers__gte=MIN_TIERS) & Q(tiers__lte=MAX_TIERS),
                name="rfm_run_tiers",
            ),
        ]
        indexes = [
            # The latest finished run, which segment conditions on RFM tier and class use.
            models.Index(
                fields=["-finished_at"], condition=Q(status="done"), name="rfm_run_done_idx"
            ),
        ]

    def __str__(self):
        return f"RFM {self.start} – {self.end} #{self.pk}"


class RfmScore(models.Model):
    """One customer's figures and scores in one run. Written only by services.rfm, in bulk.

    The table is partitioned by run (migration 0001): each run's rows are a table of their own,
    loaded, indexed and attached at once, and dropped whole when the run's scores are purged."""

    pk = models.CompositePrimaryKey("run_id", "customer_id")
    # No database constraints: the rows are derived, written in bulk from existing customers,
    # and dropped with their run's partition. A foreign key's check would lock each referenced
    # customer row (FOR KEY SHARE), writing to every page of the customers table on each run.
    # The primary key (run_id, customer_id) is the index of both.
    run = models.ForeignKey(
        RfmRun, on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    recency_days = models.IntegerField(_("days since the last order"))
    frequency = models.IntegerField(_("orders"))
    monetary = models.DecimalField(_("spend"), max_digits=14, decimal_places=2)
    r_score = models.PositiveSmallIntegerField(_("R score"))
    f_score = models.PositiveSmallIntegerField(_("F score"))
    m_score = models.PositiveSmallIntegerField(_("M score"))
    score = models.DecimalField(_("weighted score"), max_digits=5, decimal_places=3)
    tier = models.PositiveSmallIntegerField(_("tier"))
    rfm_class = models.CharField(_("RFM class"), max_length=20, choices=RfmClass)

    class Meta:
        verbose_name = _("RFM score")
        verbose_name_plural = _("RFM scores")
        indexes = [
            # A tier's customers, best first (the run's customer list).
            models.Index(fields=["run", "tier", "-score", "customer"], name="rfm_score_tier_idx"),
        ]

    def __str__(self):
        return f"{self.run_id}:{self.customer_id} T{self.tier}"


class Segment(models.Model):
    """A named condition on customers (spec 2.3.2, 5.3), optionally within another segment.

    Its members are stored (SegmentMember) at each refresh, so that campaigns and the customer
    list's `segment` filter read an indexed table instead of evaluating the condition.
    """

    name = models.CharField(_("segment name"), max_length=100, unique=True)
    description = models.CharField(_("description"), max_length=500, blank=True)
    # The full form of customers.conditions, as normalize_condition returns it.
    condition = models.JSONField(_("condition"))
    scope = models.ForeignKey(
        "self",
        verbose_name=_("within segment"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="subsegments",
        help_text=_("Only customers of this segment; empty for all customers."),
    )
    customer_count = models.PositiveIntegerField(_("customers"), default=0)
    refreshed_at = models.DateTimeField(_("refreshed at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["customer_count", "refreshed_at", "updated_at"])

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]
        permissions = [("refresh_segment", _("Can refresh segments"))]

    def __str__(self):
        return self.name


class SegmentMember(models.Model):
    """A customer in a segment as of its last refresh. Written only by services.segments, in
    bulk."""

    pk = models.CompositePrimaryKey("segment_id", "customer_id")
    # As RfmScore: derived rows written and deleted in bulk by services.segments (the ORM's
    # cascade would load them), without the foreign-key checks that would lock every member.
    segment = models.ForeignKey(
        Segment, on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    added_at = models.DateTimeField(_("added at"), default=timezone.now)

    class Meta:
        verbose_name = _("segment member")
        verbose_name_plural = _("segment members")

    def __str__(self):
        return f"{self.segment_id}:{self.customer_id}"


class SegmentSnapshot(models.Model):
    """A segment's size and portrait at one refresh (spec 支持分群更新, 2.3.4 分群趋势)."""

    segment = models.ForeignKey(
        Segment, verbose_name=_("segment"), on_delete=models.CASCADE, related_name="snapshots"
    )
    taken_at = models.DateTimeField(_("taken at"), default=timezone.now)
    count = models.PositiveIntegerField(_("customers"))
    added = models.PositiveIntegerField(_("joined"), default=0)
    removed = models.PositiveIntegerField(_("left"), default=0)
    # The portrait of segments.services.analysis: mixes, bands and statistics.
    stats = models.JSONField(_("statistics"), default=dict)
    # The report of the nightly refresh (segments.services.reports); aggregates only, no PII.
    report_html = models.FileField(_("report (HTML)"), upload_to="segments/reports/", blank=True)
    report_pdf = models.FileField(_("report (PDF)"), upload_to="segments/reports/", blank=True)

    class Meta:
        verbose_name = _("segment snapshot")
        verbose_name_plural = _("segment snapshots")
        ordering = ["-taken_at", "-id"]
        indexes = [models.Index(fields=["segment", "-taken_at"], name="segment_snapshot_idx")]

    def __str__(self):
        return f"{self.segment_id} {self.taken_at:%Y-%m-%d}: {self.count}"
