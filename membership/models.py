"""Membership (spec 2.2, model 5.2): tiers and their rules, benefits, memberships, level changes
and the points ledger.

This app is the only writer of `Customer.level` and `Customer.points` (DESIGN.md). A tier's rank is
its `sort_order`: the lowest is the base tier every customer starts in, a higher one is better.
"""

from django.conf import settings
from django.core.validators import FileExtensionValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from customers.models import Customer, Order

ICON_EXTENSIONS = ["png", "jpg", "jpeg", "gif", "svg", "webp"]


class ConditionMatch(models.TextChoices):
    ANY = "any", _("Any condition")
    ALL = "all", _("All conditions")


class MembershipLevel(models.Model):
    """A tier: what it takes to reach it, what keeps it, and where a downgrade goes.

    Upgrade conditions are thresholds on the customer's spend and order count within the last
    `window_days` (0: since the first order) and on the current points balance; an empty
    threshold is not a condition. A tier with no condition at all is reached by everyone.
    The retention thresholds (empty: the upgrade ones) keep the tier; when they fail, the tier
    is kept for `grace_days` more, then the customer goes to `downgrade_to` (empty: the best
    tier whose upgrade conditions they still meet).
    """

    code = models.CharField(
        _("code"),
        max_length=16,
        unique=True,
        validators=[
            RegexValidator(r"^[a-z][a-z0-9_]*$", _("Use lowercase letters, digits and _."))
        ],
        help_text=_("Stored on each customer and used by the API, e.g. vip."),
    )
    name = models.CharField(_("name"), max_length=50)
    name_en = models.CharField(_("name in English"), max_length=50, blank=True)
    icon = models.FileField(
        _("icon"),
        upload_to="membership/icons/",
        blank=True,
        validators=[FileExtensionValidator(ICON_EXTENSIONS)],
    )
    sort_order = models.PositiveSmallIntegerField(
        _("rank"), unique=True, help_text=_("Higher is better; the lowest is the base tier.")
    )
    condition_match = models.CharField(
        _("conditions to meet"), max_length=3, choices=ConditionMatch, default=ConditionMatch.ANY
    )
    window_days = models.PositiveIntegerField(
        _("window (days)"),
        default=365,
        help_text=_("Spend and orders count within this many days; 0 counts all of them."),
    )
    min_spent = models.DecimalField(
        _("minimum spend"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    min_orders = models.PositiveIntegerField(_("minimum orders"), null=True, blank=True)
    min_points = models.PositiveIntegerField(_("minimum points"), null=True, blank=True)
    retain_min_spent = models.DecimalField(
        _("spend that keeps the tier"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_("Empty: the upgrade conditions keep the tier."),
    )
    retain_min_orders = models.PositiveIntegerField(
        _("orders that keep the tier"), null=True, blank=True
    )
    grace_days = models.PositiveIntegerField(
        _("grace period (days)"),
        default=30,
        help_text=_("How long the tier is kept after its retention conditions fail."),
    )
    downgrade_to = models.ForeignKey(
        "self",
        verbose_name=_("downgrade to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Empty: the best tier whose upgrade conditions the customer still meets."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("membership tier")
        verbose_name_plural = _("membership tiers")
        ordering = ["sort_order"]
        permissions = [
            ("change_customer_level", _("Can change a customer's tier by hand")),
            ("enroll_member", _("Can enroll members")),
        ]

    def __str__(self):
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name

    def has_conditions(self) -> bool:
        return any(v is not None for v in (self.min_spent, self.min_orders, self.min_points))


class BenefitKind(models.TextChoices):
    DISCOUNT = "discount", _("Discount (percent off)")
    AMOUNT_OFF = "amount_off", _("Amount off (yuan)")
    GIFT = "gift", _("Gift")
    POINTS_MULTIPLIER = "points_multiplier", _("Points multiplier")
    EXCLUSIVE_SERVICE = "exclusive_service", _("Exclusive service")
    FREE_DELIVERY = "free_delivery", _("Free delivery")
    BIRTHDAY = "birthday", _("Birthday treat")
    OTHER = "other", _("Other")


class UsagePeriod(models.TextChoices):
    DAY = "day", _("per day")
    MONTH = "month", _("per calendar month")
    YEAR = "year", _("per calendar year")
    TERM = "term", _("per membership term")


class Benefit(models.Model):
    """One benefit of a tier. Benefits that share a non-empty `exclusive_group` do not stack: the
    one worth most to the guest applies; all others add up (membership.services.benefits says
    how each kind is valued and adds)."""

    level = models.ForeignKey(
        MembershipLevel,
        verbose_name=_("tier"),
        on_delete=models.CASCADE,
        related_name="benefits",
    )
    kind = models.CharField(_("type"), max_length=20, choices=BenefitKind)
    value = models.DecimalField(
        _("value"),
        max_digits=10,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0)],
        help_text=_(
            "Percent off for a discount, yuan off for an amount off, the factor for a points "
            "multiplier (1.2); for the other types, what the item or service is worth in yuan, "
            "to compare it within an exclusive group."
        ),
    )
    description = models.CharField(_("description"), max_length=200)
    description_en = models.CharField(_("description in English"), max_length=200, blank=True)
    exclusive_group = models.CharField(
        _("exclusive group"),
        max_length=32,
        blank=True,
        help_text=_("Benefits in the same group do not stack; leave empty to stack."),
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    usage_limit = models.PositiveSmallIntegerField(
        _("uses allowed"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("How many times a customer may use it in each period; empty for no limit."),
    )
    usage_period = models.CharField(
        _("limit period"), max_length=8, choices=UsagePeriod, default=UsagePeriod.TERM
    )
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("benefit")
        verbose_name_plural = _("benefits")
        ordering = ["level__sort_order", "sort_order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_until__gte=F("valid_from")),
                name="benefit_valid_range",
            ),
            models.CheckConstraint(
                condition=~Q(kind=BenefitKind.DISCOUNT) | Q(value__lte=100),
                name="benefit_discount_at_most_100",
            ),
        ]

    def __str__(self):
        return self.display_description

    @property
    def display_description(self) -> str:
        if self.description_en and (get_language() or "").startswith("en"):
            return self.description_en
        return self.description


class BenefitUsage(models.Model):
    """A benefit used by a customer, on an order when there is one (spec: 权益使用记录可追溯)."""

    benefit = models.ForeignKey(
        Benefit, verbose_name=_("benefit"), on_delete=models.PROTECT, related_name="usages"
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="benefit_usages",
        db_index=False,
    )
    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="benefit_usages",
    )
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=2, default=0)
    note = models.CharField(_("note"), max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    used_at = models.DateTimeField(_("used at"), default=timezone.now)
    idempotency_key = models.CharField(
        _("idempotency key"), max_length=200, null=True, blank=True, unique=True
    )
    # What the request asked for, so that a repeated key with another request is refused.
    request_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    # Set when the order it was used on is refunded in full: the use no longer counts.
    reversed_at = models.DateTimeField(_("reversed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("benefit usage")
        verbose_name_plural = _("benefit usages")
        ordering = ["-used_at", "-id"]
        indexes = [
            models.Index(F("customer_id"), F("used_at").desc(), name="benefit_usage_customer_idx"),
            # The per-period limit counts one customer's uses of one benefit.
            models.Index(
                fields=["benefit", "customer", "used_at"],
                condition=Q(reversed_at__isnull=True),
                name="benefit_usage_counted_idx",
            ),
        ]

    def __str__(self):
        return f"{self.benefit_id}@{self.used_at:%Y-%m-%d}"


class MembershipStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")


class EnrollMethod(models.TextChoices):
    PURCHASE = "purchase", _("Purchase")
    GIFT = "gift", pgettext_lazy("enrolment method", "Gift")
    SYSTEM = "system", _("System adjustment")


class Membership(models.Model):
    """A membership granted for a period (spec 2.2.2): while it is active, the customer's tier is
    at least its tier. At most one is active per customer."""

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,
    )
    level = models.ForeignKey(
        MembershipLevel,
        verbose_name=_("tier"),
        on_delete=models.PROTECT,
        related_name="memberships",
    )
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"))
    status = models.CharField(
        _("status"), max_length=10, choices=MembershipStatus, default=MembershipStatus.ACTIVE
    )
    method = models.CharField(
        _("enrolment method"), max_length=10, choices=EnrollMethod, default=EnrollMethod.SYSTEM
    )
    source = models.CharField(
        _("source"), max_length=64, blank=True, help_text=_("Where the enrolment came from.")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("enrolled by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["-start_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(status="active"),
                name="membership_one_active_per_customer",
            ),
            models.CheckConstraint(
                condition=Q(end_date__gt=F("start_date")), name="membership_ends_after_start"
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-start_date"], name="membership_customer_idx"),
            # The nightly expiry looks only at active memberships by end date.
            models.Index(
                fields=["end_date"],
                condition=Q(status="active"),
                name="membership_active_end_idx",
            ),
        ]

    def __str__(self):
        return f"{self.customer_id}:{self.level_id} {self.start_date}–{self.end_date}"


class MembershipPurchase(models.Model):
    """What paid for an enrolment or a renewal: an order of the ordering system or a payment
    reference. Each pays once (unique), so a retried purchase cannot add days twice."""

    membership = models.ForeignKey(
        Membership,
        verbose_name=_("membership"),
        on_delete=models.CASCADE,
        related_name="purchases",
    )
    days = models.PositiveIntegerField(_("days bought"))
    order = models.OneToOneField(
        Order,
        verbose_name=_("order"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="membership_purchase",
    )
    payment_reference = models.CharField(
        _("payment reference"), max_length=64, null=True, blank=True, unique=True
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("membership purchase")
        verbose_name_plural = _("membership purchases")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(order__isnull=False) | Q(payment_reference__isnull=False),
                name="membership_purchase_paid_by_something",
            )
        ]

    def __str__(self):
        return f"{self.membership_id} +{self.days}d"


class ChangeKind(models.TextChoices):
    AUTOMATIC = "automatic", _("Automatic")
    MANUAL = "manual", _("Manual")


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class LevelChange(models.Model):
    """One change of a customer's tier (spec 2.2.3 等级变更记录), with the notification it owes
    the customer; outreach sends the pending ones."""

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="level_changes",
        db_index=False,
    )
    # Codes rather than keys, so that a tier can be deleted without rewriting history.
    from_level = models.CharField(_("from"), max_length=16)
    to_level = models.CharField(_("to"), max_length=16)
    kind = models.CharField(_("kind"), max_length=10, choices=ChangeKind)
    reason = models.CharField(_("reason"), max_length=500)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    notification_status = models.CharField(
        _("notification"),
        max_length=10,
        choices=NotificationStatus,
        default=NotificationStatus.PENDING,
    )
    created_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                F("customer_id"), F("created_at").desc(), name="level_change_customer_idx"
            ),
            models.Index(
                fields=["created_at"],
                condition=Q(notification_status="pending"),
                name="level_change_pending_idx",
            ),
        ]

    def __str__(self):
        return f"{self.customer_id}: {self.from_level} → {self.to_level}"


class TierGrace(models.Model):
    """A customer whose tier's retention conditions failed, kept in the tier until `grace_until`.
    A row exists only during a grace period, in a narrow table of its own, so that the nightly
    run never rewrites the wide customer table for it (DESIGN.md)."""

    customer = models.OneToOneField(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="tier_grace",
    )
    level = models.CharField(_("tier"), max_length=16)
    grace_until = models.DateField(_("tier kept until"))

    class Meta:
        verbose_name = _("tier grace period")
        verbose_name_plural = _("tier grace periods")

    def __str__(self):
        return f"{self.customer_id}: {self.level} until {self.grace_until}"


class PointsKind(models.TextChoices):
    EARN = "earn", _("Earned")
    REDEEM = "redeem", _("Redeemed")
    ADJUST = "adjust", _("Adjusted")
    EXPIRE = "expire", _("Expired")
    REFUND = "refund", _("Refund")
    RELEASE = "release", _("Hold released")


class PointsEntry(models.Model):
    """One change of a customer's points (spec 2.2.5). Rows are only added.

    `Customer.points` equals the sum of `delta` over the customer's rows and never goes negative.
    A positive row is a lot: `remaining` is what is left of it after consumption, oldest lots
    first (FIFO); it expires on `expires_on`. So the sum of `remaining` equals the balance too.
    """

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="points_entries",
        db_index=False,
    )
    delta = models.IntegerField(_("change"))
    kind = models.CharField(_("kind"), max_length=10, choices=PointsKind)
    reason = models.CharField(_("reason"), max_length=200)
    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="points_entries",
    )
    # A redemption for an order not recorded yet is held against the order's (source,
    # external id); recording the order links it (`order`).
    held_source = models.CharField(
        _("held for source system"), max_length=32, blank=True, db_default=""
    )
    held_external_id = models.CharField(
        _("held for external order id"), max_length=64, blank=True, db_default=""
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    idempotency_key = models.CharField(
        _("idempotency key"), max_length=200, null=True, blank=True, unique=True
    )
    # What the request asked for, so that a repeated key with another request is refused.
    request_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    balance_after = models.IntegerField(_("balance after"))
    remaining = models.IntegerField(_("remaining"), default=0)
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points ledger")
        ordering = ["-created_at", "-id"]
        permissions = [
            ("adjust_points", _("Can adjust points")),
            ("redeem_points", _("Can redeem points")),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(delta=0), name="points_entry_delta_not_zero"),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="points_entry_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(remaining__gte=0)
                & (Q(delta__lt=0, remaining=0) | Q(delta__gt=0, remaining__lte=F("delta"))),
                name="points_entry_remaining_within_lot",
            ),
        ]
        indexes = [
            models.Index(
                F("customer_id"), F("created_at").desc(), F("id").desc(), name="points_customer_idx"
            ),
            # Open lots: FIFO consumption per customer and the nightly expiry by date.
            models.Index(
                fields=["customer", "expires_on", "id"],
                condition=Q(remaining__gt=0),
                name="points_open_lot_idx",
            ),
            models.Index(
                fields=["expires_on"], condition=Q(remaining__gt=0), name="points_expiry_idx"
            ),
            models.Index(
                fields=["held_source", "held_external_id"],
                condition=~Q(held_external_id=""),
                name="points_held_for_order_idx",
            ),
        ]

    def __str__(self):
        return f"{self.customer_id} {self.delta:+d} ({self.kind})"


class PointsPolicy(models.Model):
    """The points rules, one row (pk 1) edited in the admin."""

    earn_per_yuan = models.DecimalField(
        _("points per yuan spent"),
        max_digits=6,
        decimal_places=2,
        default=1,
        validators=[MinValueValidator(0)],
    )
    expiry_months = models.PositiveSmallIntegerField(
        _("points expire after (months)"),
        null=True,
        blank=True,
        default=12,
        help_text=_(
            "Points expire at the end of this month after the month they were earned in; "
            "empty: they never expire."
        ),
    )
    points_per_yuan_redeemed = models.PositiveIntegerField(
        _("points for one yuan off"), default=100, validators=[MinValueValidator(1)]
    )
    max_redeem_share = models.PositiveSmallIntegerField(
        _("maximum share of an order paid with points (%)"),
        default=50,
        validators=[MinValueValidator(0)],
    )
    expiring_soon_days = models.PositiveSmallIntegerField(
        _("show points as expiring within (days)"), default=30
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("points policy")
        verbose_name_plural = _("points policy")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="points_policy_single_row"),
            models.CheckConstraint(
                condition=Q(max_redeem_share__lte=100), name="points_policy_share_at_most_100"
            ),
        ]

    def __str__(self):
        return str(self._meta.verbose_name)

    @classmethod
    def current(cls) -> "PointsPolicy":
        policy, _created = cls.objects.get_or_create(pk=1)
        return policy
