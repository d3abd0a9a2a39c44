"""The shared kernel's tables: the audit trail, the access log of reads, the API tokens and the
job runs."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.audit_actions import audit_action_choices


class AuditEvent(models.Model):
    """One thing a person (or the system, when actor is empty) did that must be traceable.

    Rows are only ever added. `object_repr` and `summary` must not carry phone numbers or e-mails:
    the audit trail is read by people who may not see them.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept when the user is deleted, so the trail still says who it was.
    actor_username = models.CharField(_("actor username"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=32, choices=audit_action_choices)
    object_type = models.CharField(
        _("object type"),
        max_length=100,
        blank=True,
        help_text=_("app_label.model, e.g. customers.customer"),
    )
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    summary = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-created_at", "-id"]
        # Append-only: nobody may add, change or delete events by hand.
        default_permissions = ("view",)
        indexes = [
            # Newest first and keyset pages, unfiltered and per filter of the API and the admin.
            models.Index(fields=["created_at", "id"], name="crm_audit_created_idx"),
            models.Index(fields=["action", "created_at", "id"], name="crm_audit_action_idx"),
            models.Index(fields=["actor_username", "created_at", "id"], name="crm_audit_actor_idx"),
            models.Index(fields=["object_id", "object_type"], name="crm_audit_object_idx"),
        ]

    def __str__(self):
        who = self.actor_username or _("system")
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {who} {self.get_action_display()}"


class AccessLog(models.Model):
    """One request that showed customer records (spec 3.3 "记录所有操作日志"): who, when, which
    route and which customers, one row per request however many rows it showed.

    Append-only and narrow, written in one INSERT after the view (crm.access_log). The table is
    PARTITIONED BY RANGE (occurred_at), one partition a month, so that retention drops whole
    partitions instead of deleting rows (crm.access_log_partitions).

    Django does not manage the table (managed = False): migration crm 0005 creates it with
    RunSQL, because Django cannot create a partitioned table. PostgreSQL requires a partitioned
    table's primary key to include the partition key, so the table's key is (id, occurred_at);
    Django's composite keys are not supported by the admin, so the model declares `id` alone as
    its key. That is sound because `id` comes from one identity sequence shared by every
    partition: it is unique in practice, and Django only ever reads these rows, never updates
    them by key. The indexes (GIN on customer_ids, occurred_at, actor) are in the migration too.
    """

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(_("time"), default=timezone.now)
    # No foreign-key constraint: deleting a user must neither touch nor be blocked by the log.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    action = models.CharField(
        _("route"), max_length=100, help_text=_("The URL name of the screen or endpoint.")
    )
    method = models.CharField(_("method"), max_length=8)
    customer_ids = ArrayField(models.BigIntegerField(), verbose_name=_("customer ids"))
    count = models.PositiveIntegerField(
        _("records shown"), help_text=_("Rows shown: customers, or their orders, notes ...")
    )
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        managed = False
        db_table = "crm_accesslog"
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        ordering = ["-occurred_at", "-id"]
        # Append-only: viewable (managers), never added, changed or deleted by hand.
        default_permissions = ("view",)

    def __str__(self):
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.action} ({self.count})"


class ApiToken(models.Model):
    """A key for REST clients. Only the SHA-256 of the key is stored; the key is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    name = models.CharField(
        _("name"),
        max_length=100,
        blank=True,
        help_text=_("What the token is for, e.g. the POS system."),
    )
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        _("prefix"), max_length=8, editable=False, help_text=_("The first characters of the key.")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.prefix}… ({self.user})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class JobRun(models.Model):
    """One run of a scheduled or operator job (DESIGN.md: every nightly run is logged with its
    counts, duration and errors), whether celery-beat or a manage.py command started it."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    name = models.CharField(_("job"), max_length=100)
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.RUNNING)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["name", "-started_at"], name="job_run_name_idx")]

    def __str__(self):
        return f"{self.name} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration(self):
        return self.finished_at - self.started_at if self.finished_at else None
