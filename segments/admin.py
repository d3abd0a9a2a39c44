"""Staff screens for segments (spec 2.3): the segment list with counts and last refresh, the
segment builder (nested groups, fields from the registry, a live count), a segment's analysis,
and RFM runs with their form, tier table and chart.

Writes go through segments.services: the admin obeys the API's rules and each service records
its audit event.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.functional import lazy
from django.utils.translation import gettext, gettext_noop, ngettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from crm.errors import BusinessError
from customers.conditions import InvalidCondition, normalize_condition
from segments.models import MAX_WEIGHT, RfmRun, Segment
from segments.selectors import (
    condition_field_catalogue,
    rfm_run_report,
    segment_members,
    segment_report,
)
from segments.services import segments as services
from segments.services.rfm import Weights, check_rfm_parameters, rfm_run_start

OPERATOR_LABELS = {
    "eq": _("is"),
    "ne": _("is not"),
    "gt": _("more than"),
    "gte": _("at least"),
    "lt": _("less than"),
    "lte": _("at most"),
    "between": _("between"),
    "in": _("any of"),
    "contains": _("contains"),
    "not_contains": _("contains none of"),
    "within_days": _("within the last N days"),
    "before_days": _("more than N days ago"),
}
MEMBERS_SHOWN = 20
WEIGHT_HELP = gettext_noop("0 to %(max)d; the weights are relative.")


class ConditionBuilderWidget(forms.Textarea):
    """The condition as JSON in a textarea, which static/crm/segment_builder.js turns into groups
    of conditions with pickers (without JavaScript the JSON itself is edited)."""

    # In the app's templates/: the form renderer looks in apps, not in the project's templates/.
    template_name = "segments/condition_builder.html"

    class Media:
        js = ("crm/segment_builder.js",)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["builder"] = {
            "fields": json.dumps(condition_field_catalogue(), ensure_ascii=False),
            "operators": json.dumps(
                {key: str(label) for key, label in OPERATOR_LABELS.items()}, ensure_ascii=False
            ),
            "preview_url": reverse("api:segment-preview"),
        }
        return context


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "description", "scope", "condition"]
        widgets = {"condition": ConditionBuilderWidget(attrs={"rows": 8, "cols": 80})}

    def clean_condition(self):
        try:
            return normalize_condition(self.cleaned_data["condition"])
        except InvalidCondition as error:
            raise ValidationError(str(error.message)) from None


@admin.action(description=_("Refresh the selected segments now"), permissions=["refresh"])
def refresh_selected(modeladmin, request, queryset):
    refreshed = failed = 0
    for segment in queryset:
        try:
            services.segment_refresh(segment_id=segment.pk)
        except BusinessError as error:
            failed += 1
            modeladmin.message_user(request, f"{segment}: {error.message}", messages.ERROR)
        else:
            refreshed += 1
    modeladmin.message_user(
        request,
        ngettext("%(count)d segment refreshed.", "%(count)d segments refreshed.", refreshed)
        % {"count": refreshed},
        messages.SUCCESS if not failed else messages.WARNING,
    )


@admin.register(Segment)
class SegmentAdmin(SimpleHistoryAdmin):
    form = SegmentForm
    list_display = ("name", "customer_count", "refreshed_at", "scope", "updated_at")
    list_select_related = ("scope",)
    search_fields = ("name",)
    readonly_fields = ("customer_count", "refreshed_at")
    autocomplete_fields = ("scope",)
    actions = (refresh_selected,)
    change_form_template = "admin/segments/segment/change_form.html"

    def has_refresh_permission(self, request):
        return request.user.has_perm("segments.refresh_segment")

    def get_fields(self, request, obj=None):
        fields = ["name", "description", "scope", "condition"]
        return fields if obj is None else [*fields, *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = services.segment_update(
                segment=obj,
                actor=request.user,
                changes={key: data[key] for key in ("name", "description", "scope", "condition")},
            )
        else:
            saved = services.segment_create(
                actor=request.user,
                name=data["name"],
                description=data.get("description", ""),
                condition=data["condition"],
                scope=data.get("scope"),
            )
        obj.__dict__.update(saved.__dict__)

    def delete_model(self, request, obj):
        services.segment_delete(segment=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for segment in queryset:
            services.segment_delete(segment=segment, actor=request.user)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["analysis"] = segment_report(obj)
            context["report_url"] = reverse("api:segment-report", args=[obj.pk])
            if request.user.has_perm("customers.view_customer"):
                context["members"] = list(segment_members(obj)[:MEMBERS_SHOWN])
        return super().render_change_form(request, context, add, change, form_url, obj)


class RfmRunForm(forms.ModelForm):
    """The run's parameters, checked by the service's rules (check_rfm_parameters)."""

    class Meta:
        model = RfmRun
        fields = ["start", "end", "tiers", "weight_r", "weight_f", "weight_m"]
        # Interpolated when shown, in the language of the request that shows it.
        help_texts = {"weight_r": lazy(lambda: gettext(WEIGHT_HELP) % {"max": MAX_WEIGHT}, str)()}

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            check_rfm_parameters(
                start=cleaned["start"],
                end=cleaned["end"],
                tiers=cleaned["tiers"],
                weights=self.weights(),
            )
        except BusinessError as error:
            for field, messages_ in error.fields.items():
                self.add_error(field if field in self.fields else None, messages_)
        return cleaned

    def weights(self) -> Weights:
        data = self.cleaned_data
        return Weights(data["weight_r"], data["weight_f"], data["weight_m"])


@admin.register(RfmRun)
class RfmRunAdmin(admin.ModelAdmin):
    form = RfmRunForm
    list_display = ("__str__", "status", "tiers", "scored", "unscored", "created_at", "finished_at")
    list_filter = ("status",)
    change_form_template = "admin/segments/rfmrun/change_form.html"

    def get_fields(self, request, obj=None):
        if obj is None:
            return RfmRunForm.Meta.fields
        return (*RfmRunForm.Meta.fields, "status", "progress", "scored", "unscored", "error")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.get_fields(request, obj)

    def has_change_permission(self, request, obj=None):
        return False  # a run is a record: start another one instead

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        run = rfm_run_start(
            actor=request.user,
            start=data["start"],
            end=data["end"],
            tiers=data["tiers"],
            weights=form.weights(),
        )
        obj.__dict__.update(run.__dict__)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["report"] = rfm_run_report(obj)
            context["status_url"] = reverse("api:rfm-run-detail", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)
