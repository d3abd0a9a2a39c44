from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    VIEW = "view", _("view")
    ADD_TO_CART = "add_to_cart", _("add to cart")
    ORDER = "order", _("order")
    REVIEW = "review", _("review")
    SHARE = "share", _("share")
    FAVOURITE = "favourite", _("favourite")
    VISIT = "visit", _("visit")


class EventChannel(models.TextChoices):
    MINI_PROGRAM = "mini_program", _("mini-program")
    APP = "app", _("app")
    WEB = "web", _("web")
    IN_STORE = "in_store", _("in store")


class DeviceClass(models.TextChoices):
    MOBILE = "mobile", _("mobile")
    TABLET = "tablet", _("tablet")
    PC = "pc", _("PC")
    UNKNOWN = "unknown", _("unknown")


class BehaviourEvent(models.Model):
    """One thing a customer did in an app, a mini-program, the web or a store (spec 2.4.3), sent
    in batches to POST /api/v1/events (profiles.services.events).

    Desensitised on the way in: the IP only as its network (/24, /48), the user agent only as
    the device class; neither raw value is stored.

    Tens of millions of rows: the table is PARTITIONED BY RANGE (occurred_at), one partition a
    month plus a DEFAULT one (crm.partitions, profiles.services.event_partitions), so retention
    drops whole partitions. Django cannot create a partitioned table, so the model is unmanaged
    and migration profiles 0001 creates it; its primary key is (id, occurred_at), as PostgreSQL
    requires, and the model names `id` alone, unique through the parent's one identity sequence
    (as crm.models.AccessLog).
    """

    id = models.BigAutoField(primary_key=True)
    # No foreign-key constraint in the database (db_constraint=False): Django's test flush
    # truncates the customers but not this unmanaged table, and PostgreSQL refuses to truncate
    # a table another one references. The service checks the customer exists; deleting one
    # (rare: an erasure anonymises) removes their events with one fast DELETE by Django
    # (CASCADE, no signals on events, so nothing is loaded).
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="+",
    )
    type = models.CharField(_("type"), max_length=20, choices=EventType.choices)
    channel = models.CharField(_("channel"), max_length=20, choices=EventChannel.choices)
    device = models.CharField(_("device"), max_length=10, choices=DeviceClass.choices)
    dish = models.CharField(_("dish"), max_length=100, blank=True)
    category = models.CharField(_("category"), max_length=50, blank=True)
    session_id = models.CharField(_("session id"), max_length=64, blank=True)
    duration_seconds = models.PositiveIntegerField(_("duration (seconds)"), null=True, blank=True)
    occurred_at = models.DateTimeField(_("time"))
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    ip_prefix = models.CharField(
        _("network"),
        max_length=49,
        blank=True,
        help_text=_("The sender's network (/24 or /48), never the full IP address."),
    )

    class Meta:
        managed = False
        db_table = "profiles_behaviourevent"
        verbose_name = _("behaviour event")
        verbose_name_plural = _("behaviour events")
        ordering = ["-occurred_at", "-id"]
        # Written by the API only: viewable, never added, changed or deleted by hand.
        default_permissions = ("view",)
        permissions = [("record_events", _("Can record behaviour events"))]

    def __str__(self):
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.customer_id} {self.type}"


class TagRule(models.Model):
    """An automatic tag (spec 2.4.4 自动标签): the customers meeting `condition` (a condition of
    the core's engine, as segments store theirs) carry `tag`, set with this confidence, and lose
    it when they no longer meet it. One rule per tag: several ways to earn a tag are one
    condition joined by "or", so that a rule-set link names exactly one rule."""

    tag = models.OneToOneField(
        "customers.Tag", verbose_name=_("tag"), on_delete=models.CASCADE, related_name="rule"
    )
    condition = models.JSONField(_("condition"))
    confidence = models.DecimalField(
        _("confidence"),
        max_digits=3,
        decimal_places=2,
        default=Decimal(1),
        help_text=_("How sure the rule is, from 0 to 1."),
    )
    active = models.BooleanField(_("active"), default=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("tag rule")
        verbose_name_plural = _("tag rules")
        ordering = ["tag__name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1),
                name="tag_rule_confidence_0_to_1",
            ),
        ]

    def __str__(self):
        return str(self.tag)


class Occupation(models.TextChoices):
    WHITE_COLLAR = "white_collar", _("office worker")
    BUSINESS = "business", _("business person")
    STUDENT = "student", _("student")
    FAMILY = "family", _("family host")
    FREELANCE = "freelance", _("freelancer")
    RETIRED = "retired", _("retired")
    OTHER = "other", _("other")


class IncomeBand(models.TextChoices):
    LOW = "low", _("low")
    MIDDLE = "middle", _("middle")
    UPPER_MIDDLE = "upper_middle", _("upper middle")
    HIGH = "high", _("high")


class Frequency(models.TextChoices):
    WEEKLY = "weekly", _("weekly")
    BIWEEKLY = "biweekly", _("every two weeks")
    MONTHLY = "monthly", _("monthly")
    QUARTERLY = "quarterly", _("quarterly")
    OCCASIONAL = "occasional", _("occasionally")
    ONCE = "once", _("once")
    NONE = "none", _("never ordered")


def _top(name):
    return ArrayField(models.CharField(max_length=100), verbose_name=name, default=list)


class CustomerProfile(models.Model):
    """A customer's portrait as the rebuild computed it from their orders and behaviour events
    (spec 2.4, 5.4), plus the occupation and income staff set by hand (spec 支持手动标注).

    A narrow table of its own, never the wide customers table (DESIGN.md: a 1M-row UPDATE there
    costs 43-53 s). Written by profiles.services.portraits only: set-based in batches by the
    nightly rebuild, for one customer when an order or events arrive. The rebuild writes the
    computed columns and never the manual ones; a row changes only when a figure changed.
    What depends on today rather than on the history (age band, location, the period
    comparison) is worked out when the profile is read, so it is never stale.
    """

    customer = models.OneToOneField(
        "customers.Customer",
        verbose_name=_("customer"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # Consumption (orders that are not fully refunded; money is what was paid and kept paid).
    order_count = models.PositiveIntegerField(_("orders"), default=0)
    total_spent = models.DecimalField(_("total spent"), max_digits=14, decimal_places=2, default=0)
    avg_order_value = models.DecimalField(
        _("average order value"), max_digits=12, decimal_places=2, default=0
    )
    frequency = models.CharField(
        _("frequency"), max_length=12, choices=Frequency, default=Frequency.NONE
    )
    price_range = models.CharField(_("price range"), max_length=12, blank=True)
    favourite_categories = _top(_("favourite categories"))
    favourite_dishes = _top(_("favourite dishes"))
    favourite_tastes = _top(_("favourite tastes"))
    peak_hours = _top(_("peak hours"))
    payment_preferences = _top(_("payment preferences"))
    preferred_order_channel = models.CharField(
        _("preferred order channel"), max_length=20, blank=True
    )
    # Behaviour (events).
    visit_count = models.PositiveIntegerField(_("visits"), default=0)
    total_duration_seconds = models.PositiveBigIntegerField(_("time spent (seconds)"), default=0)
    avg_session_seconds = models.PositiveIntegerField(_("average visit (seconds)"), default=0)
    browsed_categories = _top(_("browsed categories"))
    browsed_dishes = _top(_("browsed dishes"))
    reviews = models.PositiveIntegerField(_("reviews"), default=0)
    shares = models.PositiveIntegerField(_("shares"), default=0)
    favourites = models.PositiveIntegerField(_("favourites"), default=0)
    preferred_channel = models.CharField(_("preferred channel"), max_length=20, blank=True)
    device = models.CharField(_("device"), max_length=10, blank=True)
    browsing_pattern = _top(_("browsing pattern"))
    # Inferred from the orders, with how sure the inference is (0-1).
    occupation_inferred = models.CharField(
        _("inferred occupation"), max_length=20, choices=Occupation, blank=True
    )
    occupation_confidence = models.DecimalField(
        _("occupation confidence"), max_digits=3, decimal_places=2, null=True, blank=True
    )
    income_inferred = models.CharField(
        _("inferred income"), max_length=20, choices=IncomeBand, blank=True
    )
    income_confidence = models.DecimalField(
        _("income confidence"), max_digits=3, decimal_places=2, null=True, blank=True
    )
    # Set by staff; a manual value wins over the inferred one.
    occupation_manual = models.CharField(
        _("occupation (set by staff)"), max_length=20, choices=Occupation, blank=True
    )
    income_manual = models.CharField(
        _("income (set by staff)"), max_length=20, choices=IncomeBand, blank=True
    )
    manual_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("set by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    manual_at = models.DateTimeField(_("set at"), null=True, blank=True)
    computed_at = models.DateTimeField(_("computed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer portrait")
        verbose_name_plural = _("customer portraits")
        permissions = [
            ("annotate_customerprofile", _("Can set a customer's occupation and income")),
        ]
        default_permissions = ("view",)

    def __str__(self):
        return str(self.customer_id)
