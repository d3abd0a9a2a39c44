from decimal import Decimal

from django.conf import settings
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
