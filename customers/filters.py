"""Which customers a set of conditions selects: the list API's query parameters (CustomerFilter),
also the selection of the batch edit, batch enrolment and exports, validated in one place."""

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from customers.levels import level_choices
from customers.models import Customer, CustomerSource, CustomerStatus
from customers.selectors import customer_list

ORDERINGS = {
    "createdAt": ("created_at", False),
    "totalSpent": ("total_spent", False),
    "orderCount": ("order_count", False),
    "lastOrderDate": ("last_order_date", True),
}
ORDERING_CHOICES = [(key, key) for key in ORDERINGS] + [(f"-{key}", f"-{key}") for key in ORDERINGS]


class ChoiceInFilter(django_filters.BaseInFilter, django_filters.ChoiceFilter):
    """`level=vip,svip`: one or several values, each checked against the choices."""


class CharInFilter(django_filters.BaseInFilter, django_filters.CharFilter):
    pass


class CustomerFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method="filter_search",
        label=_("Name (fuzzy), phone (full or last 4), e-mail (exact) or customer number (prefix)"),
    )
    level = ChoiceInFilter(choices=level_choices, label=_("Levels, comma-separated"))
    status = ChoiceInFilter(choices=CustomerStatus.choices, label=_("Statuses, comma-separated"))
    source = ChoiceInFilter(choices=CustomerSource.choices, label=_("Sources, comma-separated"))
    tag = CharInFilter(
        method="filter_tag",
        label=_("Tag names, comma-separated (any of them or of their descendants)"),
    )
    excludeTag = CharInFilter(
        method="filter_exclude_tag",
        label=_("Tag names, comma-separated: customers with none of them nor their descendants"),
    )
    startDate = django_filters.DateFilter(
        field_name="register_date", lookup_expr="gte", label=_("Registered on or after")
    )
    endDate = django_filters.DateFilter(
        field_name="register_date", lookup_expr="lte", label=_("Registered on or before")
    )
    ordering = django_filters.ChoiceFilter(
        choices=ORDERING_CHOICES, method="filter_ordering", label=_("Sort order")
    )

    class Meta:
        model = Customer
        fields = []

    def filter_queryset(self, queryset):
        # Archived customers are out of the staff's way unless asked for by status.
        if not self.form.cleaned_data.get("status"):
            queryset = queryset.live()
        return super().filter_queryset(queryset)

    def filter_search(self, queryset, name, value):
        return queryset.search(value)

    def filter_tag(self, queryset, name, value):
        return queryset.with_any_tag(value)

    def filter_exclude_tag(self, queryset, name, value):
        return queryset.without_tags(value)

    def filter_ordering(self, queryset, name, value):
        return queryset.order_by(*order_by_for(value))


def order_by_for(value: str):
    """Order by the chosen column with id as tie-breaker, matching the indexes on Customer."""
    key = value.lstrip("-")
    descending = value.startswith("-")
    column, nullable = ORDERINGS[key]
    if nullable:
        # customer_last_order_idx is (last_order_date DESC NULLS LAST, id DESC): both directions
        # below are a forward or backward walk of it.
        if descending:
            return [F(column).desc(nulls_last=True), F("id").desc()]
        return [F(column).asc(nulls_first=True), F("id").asc()]
    if descending:
        return [f"-{column}", "-id"]
    return [column, "id"]


def filter_data(conditions, *, field: str = "filter") -> dict:
    """The conditions as CustomerFilter reads them (lists joined with commas, empty values left
    out), validated: a ValidationError keyed `field` for a non-object, an unknown filter or a
    bad value."""
    if not isinstance(conditions, dict):
        raise ValidationError({field: [_("Give the filters as an object.")]})
    unknown = sorted(set(conditions) - set(CustomerFilter.base_filters))
    if unknown:
        message = _("Unknown filter: %(unknown)s. Valid filters: %(valid)s.") % {
            "unknown": ", ".join(unknown),
            "valid": ", ".join(CustomerFilter.base_filters),
        }
        raise ValidationError({field: [message]})
    data = {}
    for key, value in conditions.items():
        if value is None or value == "" or value == []:
            continue
        data[key] = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    filterset = CustomerFilter(data=data, queryset=Customer.objects.none())
    if not filterset.is_valid():
        raise ValidationError(
            {
                field: [
                    _("Filter %(name)s: %(message)s") % {"name": name, "message": message}
                    for name, messages in filterset.errors.items()
                    for message in messages
                ]
            }
        )
    return data


def filtered_customers(data: dict, queryset=None):
    """The customers that `data` (from filter_data) selects, from `queryset` (default: the
    staff list)."""
    queryset = customer_list() if queryset is None else queryset
    return CustomerFilter(data=data, queryset=queryset).qs


def batch_selection(conditions: dict):
    """The customers a batch action's filter selects (batch edit, batch enrolment); it must
    name at least one real condition, since an empty one would select everyone."""
    data = filter_data(conditions)
    if not set(data) - {"ordering"}:
        raise ValidationError(
            {"filter": [_("An empty filter would change every customer; give a condition.")]}
        )
    return filtered_customers(data)


def register_customer_filter(name: str, filter_: django_filters.Filter) -> None:
    """Add a query parameter to the customer list, and so to batch edits and exports, which take
    its filters (`segment=<id>` from segments). Call it from an AppConfig.ready: the core never
    imports the apps that own such filters."""
    if name in CustomerFilter.declared_filters:
        raise ValueError(f"The customer filter {name!r} is the core's own.")
    filter_.field_name = name
    CustomerFilter.base_filters[name] = filter_
