"""Staff screens of profiles: behaviour events (read only), tag rules (spec 2.4.4: the list, the
form with the condition as JSON checked by the core's condition engine, and an action applying
the selected rules now) and portraits, whose occupation and income staff may set (spec 支持手动
标注). Writes go through the services, which record the audit events."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from crm.admin_audit import ReadOnlyAdminMixin
from crm.admin_base import ESTIMATE_ABOVE, CustomerReadsAdmin, EstimatedCountAdmin, is_unfiltered
from customers.conditions import InvalidCondition, normalize_condition
from profiles.models import BehaviourEvent, CustomerProfile, TagRule
from profiles.roles import ANNOTATE
from profiles.services import tag_rules as services
from profiles.services.event_partitions import EVENTS
from profiles.services.portraits import portrait_annotate


def estimated_event_rows() -> int | None:
    rows = EVENTS.estimated_rows()
    return rows if rows >= ESTIMATE_ABOVE else None


@admin.register(BehaviourEvent)
class BehaviourEventAdmin(ReadOnlyAdminMixin, CustomerReadsAdmin, EstimatedCountAdmin):
    """The behaviour events, newest first; read-only. Only what was stored is shown, and that is
    already desensitised (the network, the device class); the customer by id, without joining
    their record."""

    list_display = (
        "occurred_at",
        "customer_id",
        "type",
        "channel",
        "device",
        "dish",
        "category",
        "duration_seconds",
        "ip_prefix",
    )
    # Both have choices, so the filters list them without a SELECT DISTINCT over the table.
    list_filter = ("type", "channel")
    # Only so that Django shows the search box; get_search_results does the searching.
    search_fields = ("session_id",)
    search_help_text = _("A customer id.")
    fields = (
        "occurred_at",
        "received_at",
        "customer_id",
        "type",
        "channel",
        "device",
        "dish",
        "category",
        "session_id",
        "duration_seconds",
        "ip_prefix",
    )
    ordering = ("-occurred_at", "-id")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50

    def count_estimate(self, request, queryset):
        # The parent of a partitioned table has no statistics: sum its partitions'.
        return estimated_event_rows if is_unfiltered(request) else None

    def get_search_results(self, request, queryset, search_term):
        # A customer id, served by the (customer_id, occurred_at) index; nothing else is searched.
        term = search_term.strip()
        if not term:
            return queryset, False
        if not term.isdigit():
            return queryset.none(), False
        return queryset.filter(customer_id=int(term)), False


class TagRuleForm(forms.ModelForm):
    class Meta:
        model = TagRule
        fields = ["tag", "condition", "confidence", "active", "description"]
        widgets = {"condition": forms.Textarea(attrs={"rows": 8, "cols": 80})}
        help_texts = {
            "condition": _(
                "A customer condition as segments take it (docs/segments.md), such as "
                '{"totalSpent": {"gte": 5000}}.'
            )
        }

    def clean_condition(self):
        try:
            return normalize_condition(self.cleaned_data["condition"])
        except InvalidCondition as error:
            raise ValidationError(str(error.message)) from None


@admin.action(description=_("Apply the selected rules now"), permissions=["change"])
def apply_selected(modeladmin, request, queryset):
    counts = services.apply_tag_rules(rule_ids=list(queryset.values_list("pk", flat=True)))
    modeladmin.message_user(
        request,
        ngettext(
            "%(rules)d rule applied: %(added)d tags added, %(removed)d removed.",
            "%(rules)d rules applied: %(added)d tags added, %(removed)d removed.",
            counts["rules"],
        )
        % counts,
        messages.SUCCESS,
    )


@admin.register(TagRule)
class TagRuleAdmin(admin.ModelAdmin):
    form = TagRuleForm
    list_display = ("tag", "active", "confidence", "description", "created_by", "updated_at")
    list_filter = ("active",)
    list_select_related = ("tag", "created_by")
    search_fields = ("tag__name", "description")
    autocomplete_fields = ("tag",)
    readonly_fields = ("created_by", "created_at", "updated_at")
    actions = (apply_selected,)

    def save_model(self, request, obj, form, change):
        saved = services.tag_rule_save(
            rule=obj, actor=request.user, changed=form.changed_data if change else None
        )
        obj.__dict__.update(saved.__dict__)

    def delete_model(self, request, obj):
        services.tag_rule_delete(rule=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            services.tag_rule_delete(rule=rule, actor=request.user)


MANUAL_FIELDS = ("occupation_manual", "income_manual")


@admin.register(CustomerProfile)
class CustomerProfileAdmin(admin.ModelAdmin):
    """Portraits are computed (profiles.services.portraits); staff change only the two values
    they may know better than the inference. The customer page's Portrait tab links here."""

    list_display = ("customer_id", "frequency", "order_count", "avg_order_value", "computed_at")
    list_filter = ("frequency", "occupation_inferred", "occupation_manual")
    show_full_result_count = False
    fieldsets = (
        (_("Set by staff"), {"fields": (*MANUAL_FIELDS, "manual_by", "manual_at")}),
        (
            _("Inferred"),
            {
                "fields": (
                    "occupation_inferred",
                    "occupation_confidence",
                    "income_inferred",
                    "income_confidence",
                    "computed_at",
                )
            },
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        editable = MANUAL_FIELDS if request.user.has_perm(ANNOTATE) else ()
        return [
            name
            for fieldset in self.fieldsets
            for name in fieldset[1]["fields"]
            if name not in editable
        ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(ANNOTATE)

    def save_model(self, request, obj, form, change):
        changes = {
            name: form.cleaned_data[name] for name in MANUAL_FIELDS if name in form.changed_data
        }
        if changes:
            saved = portrait_annotate(customer=obj.customer, actor=request.user, changes=changes)
            obj.__dict__.update(saved.__dict__)
