"""The customer list's counting and filters. Every filter has choices or reads a small table, so
none runs a SELECT DISTINCT over the customers; the unfiltered list's total is an estimate."""

from datetime import date

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import PAGE_VAR
from django.utils.translation import gettext_lazy as _

from crm.admin_base import (
    estimated_table_rows,
)
from customers.models import (
    Customer,
    CustomerStatus,
    Tag,
)

# --- counting ------------------------------------------------------------------------------


def estimated_live_customers() -> int | None:
    """Customers but archived ones, estimated; None when the table is small enough to count."""
    rows = estimated_table_rows(Customer)
    if rows is None:
        return None
    # Archived customers are few and indexed by status: counting them exactly is cheap.
    archived = Customer.objects.filter(status=CustomerStatus.ARCHIVED).count()
    return max(rows - archived, 0)


# --- filters -------------------------------------------------------------------------------


class StatusFilter(admin.SimpleListFilter):
    """By status; archived customers (staff "deleted" them) are left out unless asked for."""

    title = _("status")
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request, model_admin):
        return [*CustomerStatus.choices, (self.ALL, _("All, archived included"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset.live()
        if value == self.ALL:
            return queryset
        if value not in CustomerStatus.values:
            raise IncorrectLookupParameters(value)
        return queryset.filter(status=value)

    def choices(self, changelist):
        choices = list(super().choices(changelist))
        # The first choice is the one without a value: here, every customer but archived ones.
        choices[0]["display"] = _("All but archived")
        return choices


class TagFilter(admin.SimpleListFilter):
    """By tag; tags are few (a small table), so listing them costs nothing."""

    title = _("tag")
    parameter_name = "tag"
    MAX_TAGS = 200

    def lookups(self, request, model_admin):
        names = Tag.objects.order_by("name").values_list("name", flat=True)[: self.MAX_TAGS]
        return [(name, name) for name in names]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.with_any_tag([self.value()])
        return queryset


class RegisterDateFilter(admin.ListFilter):
    """Registration date from / to (inclusive), entered as two dates."""

    title = _("registration date")
    template = "admin/customers/customer/date_range_filter.html"
    FROM = "register_from"
    TO = "register_to"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.dates = {}
        for name in (self.FROM, self.TO):
            if name in params:
                value = params.pop(name)[-1]
                self.used_parameters[name] = value
                if value:
                    try:
                        self.dates[name] = date.fromisoformat(value)
                    except ValueError:
                        raise IncorrectLookupParameters(name) from None

    def has_output(self):
        return True

    def expected_parameters(self):
        return [self.FROM, self.TO]

    def queryset(self, request, queryset):
        if not self.dates:
            return queryset
        return queryset.registered_between(self.dates.get(self.FROM), self.dates.get(self.TO))

    def choices(self, changelist):
        kept = [
            (key, value)
            for key, value in changelist.params.items()
            if key not in {self.FROM, self.TO, PAGE_VAR}
        ]
        yield {
            "selected": bool(self.dates),
            "from": self.used_parameters.get(self.FROM, ""),
            "to": self.used_parameters.get(self.TO, ""),
            "from_name": self.FROM,
            "to_name": self.TO,
            "hidden": kept,
            "clear_query_string": changelist.get_query_string(remove=[self.FROM, self.TO]),
        }
