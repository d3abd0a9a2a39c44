from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


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
