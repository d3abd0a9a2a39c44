from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from crm.admin_audit import ReadOnlyAdminMixin
from crm.admin_base import ESTIMATE_ABOVE, CustomerReadsAdmin, EstimatedCountAdmin, is_unfiltered
from profiles.models import BehaviourEvent
from profiles.services.event_partitions import EVENTS


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
