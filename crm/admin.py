from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from crm import access_log_partitions
from crm.admin_audit import ReadOnlyAdminMixin, TrailReadAdminMixin
from crm.admin_base import ESTIMATE_ABOVE, EstimatedCountAdmin, is_unfiltered
from crm.auth.tokens import create_api_token, ensure_may_issue_token, revoke_api_token
from crm.errors import NotAllowed
from crm.models import AccessLog, ApiToken, AuditEvent, JobRun


@admin.register(AuditEvent)
class AuditEventAdmin(TrailReadAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "action",
        "actor_username",
        "object_type",
        "object_id",
        "object_repr",
        "ip",
    )
    # `action` has choices, so the filter lists them without a SELECT DISTINCT over the table.
    list_filter = ("action",)
    search_fields = ("actor_username", "object_id")
    search_help_text = _("Exact username or object id.")
    fields = (
        "created_at",
        "action",
        "actor_username",
        "object_type",
        "object_id",
        "object_repr",
        "ip",
        "summary",
    )
    show_full_result_count = False
    ordering = ("-created_at", "-id")

    def get_search_results(self, request, queryset, search_term):
        # Exact matches, each served by its index; the default icontains would scan the table.
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(actor_username=term) | Q(object_id=term)), False


def estimated_access_log_rows() -> int | None:
    rows = access_log_partitions.estimated_rows()
    return rows if rows >= ESTIMATE_ABOVE else None


@admin.register(AccessLog)
class AccessLogAdmin(TrailReadAdminMixin, ReadOnlyAdminMixin, EstimatedCountAdmin):
    """Who read which customers' records, newest first (crm.access_log); managers only."""

    list_display = ("occurred_at", "actor", "action", "method", "count", "customers_display", "ip")
    list_select_related = ("actor",)
    # Only so that Django shows the search box; get_search_results does the searching.
    search_fields = ("action",)
    search_help_text = _("A customer id, or a staff member's exact username.")
    fields = ("occurred_at", "actor", "action", "method", "count", "customer_ids", "ip")
    ordering = ("-occurred_at", "-id")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50

    @admin.display(description=_("customers"))
    def customers_display(self, entry):
        shown = ", ".join(map(str, entry.customer_ids[:10]))
        return shown + " …" if len(entry.customer_ids) > 10 else shown

    def count_estimate(self, request, queryset):
        return estimated_access_log_rows if is_unfiltered(request) else None

    def get_search_results(self, request, queryset, search_term):
        # A number is a customer id (the GIN index over customer_ids); else an exact username.
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.isdigit():
            return queryset.filter(customer_ids__contains=[int(term)]), False
        return queryset.filter(actor__username=term), False


@admin.action(description=_("Revoke the selected tokens"), permissions=["change"])
def revoke_tokens(modeladmin, request, queryset):
    revoked = sum(
        revoke_api_token(token=token, actor=request.user)
        for token in queryset.select_related("user")
    )
    modeladmin.message_user(
        request,
        ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", revoked)
        % {"count": revoked},
        messages.SUCCESS,
    )


class ApiTokenAddForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ("user", "name")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("user") is not None:
            try:
                ensure_may_issue_token(actor=self.request_user, user=cleaned["user"])
            except NotAllowed as error:
                raise ValidationError(str(error.message), code="not_allowed") from None
        return cleaned


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    list_select_related = ("user",)
    search_fields = ("=prefix", "user__username")
    raw_id_fields = ("user",)
    actions = (revoke_tokens,)
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenAddForm
        form = super().get_form(request, obj, change=change, **kwargs)
        form.request_user = request.user
        return form

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "name")
        return ("user", "name", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        # A token's owner never changes; its key is never stored, so never shown.
        return ("user", *self.readonly_fields) if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row keeps the trail of who used which key

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        token, key = create_api_token(user=obj.user, name=obj.name, actor=request.user)
        # The admin goes on with `obj` (its log entry and redirect): make it the saved token.
        obj.__dict__.update(token.__dict__)
        messages.warning(
            request,
            _("The key of the new token is %(key)s — copy it now; it will not be shown again.")
            % {"key": key},
        )


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Runs of the nightly and operator jobs (crm.jobs.job_run), newest first."""

    list_display = (
        "name",
        "status",
        "started_at",
        "duration_display",
        "counts_display",
        "error_display",
    )
    # A few runs a night: listing the distinct job names reads a small table (its name index).
    list_filter = ("name", "status")
    fields = (
        "name",
        "status",
        ("started_at", "finished_at", "duration_display"),
        "counts_display",
        "error",
    )
    readonly_fields = ("duration_display", "counts_display")
    ordering = ("-started_at", "-id")
    list_per_page = 50
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description=_("duration"))
    def duration_display(self, run):
        if run.duration is None:
            return "-"
        return f"{run.duration.total_seconds():.1f} s"

    @admin.display(description=_("counts"))
    def counts_display(self, run):
        return ", ".join(f"{key}: {value}" for key, value in sorted(run.counts.items())) or "-"

    @admin.display(description=_("error"))
    def error_display(self, run):
        return run.error if len(run.error) <= 80 else run.error[:79] + "…"
