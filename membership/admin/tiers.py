"""The tier editor with its benefits (spec 2.2.1), through membership.services.levels."""

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from crm.admin_base import (
    ServiceErrorsForm,
    ServiceSaveAdmin,
    call_service,
)
from membership.models import (
    Benefit,
    ConditionMatch,
    MembershipLevel,
)
from membership.services.benefits import delete_benefit, save_benefit
from membership.services.levels import (
    TierInUse,
    delete_level,
    save_level,
)

# --- tiers ---------------------------------------------------------------------------------


class BenefitInline(admin.TabularInline):
    model = Benefit
    extra = 0
    fields = (
        "kind",
        "value",
        "description",
        "description_en",
        "exclusive_group",
        "valid_from",
        "valid_until",
        "usage_limit",
        "usage_period",
        "is_active",
        "sort_order",
    )


@admin.register(MembershipLevel)
class MembershipLevelAdmin(ServiceSaveAdmin, SimpleHistoryAdmin):
    form = ServiceErrorsForm
    list_display = (
        "icon_preview",
        "name",
        "name_en",
        "code",
        "sort_order",
        "conditions",
        "grace_days",
        "downgrade_to",
    )
    list_display_links = ("name",)
    list_select_related = ("downgrade_to",)
    ordering = ("sort_order",)
    inlines = (BenefitInline,)
    readonly_fields = ("icon_on_form",)
    fieldsets = (
        (None, {"fields": (("name", "name_en"), ("code", "sort_order"), ("icon", "icon_on_form"))}),
        (
            _("Upgrade conditions"),
            {
                "fields": (
                    ("condition_match", "window_days"),
                    ("min_spent", "min_orders", "min_points"),
                ),
                "description": _(
                    "Spend and orders count within the window; points are the current balance. "
                    "An empty threshold is not a condition; a tier without any is everyone's."
                ),
            },
        ),
        (
            _("Retention and downgrade"),
            {"fields": (("retain_min_spent", "retain_min_orders"), "grace_days", "downgrade_to")},
        ),
    )

    @admin.display(description=_("icon"))
    def icon_preview(self, level):
        if not level.icon:
            return "-"
        return format_html('<img src="{}" alt="" height="32">', level.icon.url)

    @admin.display(description=_("preview"))
    def icon_on_form(self, level):
        # The same picture, labelled apart from the upload field beside it.
        return self.icon_preview(level)

    @admin.display(description=_("upgrade conditions"))
    def conditions(self, level):
        parts = []
        if level.min_spent is not None:
            parts.append(gettext("spent ¥%(amount)s") % {"amount": f"{level.min_spent:,.2f}"})
        if level.min_orders is not None:
            parts.append(gettext("%(count)s orders") % {"count": level.min_orders})
        if level.min_points is not None:
            parts.append(gettext("%(count)s points") % {"count": level.min_points})
        if not parts:
            return gettext("none: every customer")
        any_of = level.condition_match == ConditionMatch.ANY
        text = (gettext(" or ") if any_of else gettext(" and ")).join(parts)
        if level.window_days:
            text = gettext("%(conditions)s within %(days)s days") % {
                "conditions": text,
                "days": level.window_days,
            }
        return text

    def get_actions(self, request):
        actions = super().get_actions(request)
        # One tier at a time, through delete_level, which refuses a tier in use.
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        call_service(save_level, level=obj, actor=request.user)

    def save_formset(self, request, form, formset, change):
        for benefit in formset.save(commit=False):
            save_benefit(benefit=benefit, actor=request.user)
        for benefit in formset.deleted_objects:
            delete_benefit(benefit=benefit, actor=request.user)

    def delete_model(self, request, obj):
        delete_level(level=obj, actor=request.user)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except TierInUse as error:
            # The view's transaction has rolled back (its log entry with it): the tier stays.
            self.message_user(request, error.message, messages.ERROR)
            return redirect("admin:membership_membershiplevel_change", object_id)

    def revert_disabled(self, request, obj=None):
        # Reverting would write past save_level (its checks and its audit event).
        return True
