"""The membership lists of records about customers (memberships, tier changes, benefit uses):
their query parameters and the view they share. Each list is newest first along an index: one
customer's rows along the (customer, time) index of their table, all rows by id otherwise."""

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.generics import ListAPIView

from crm.api.pagination import PagePagination
from membership.models import BenefitUsage, LevelChange, Membership, MembershipStatus


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class CustomerRowsFilter(django_filters.FilterSet):
    customerId = IdFilter(field_name="customer_id", label=_("Customer id"))

    # The model's time column that leads its (customer, time DESC) index.
    newest_by: str

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if self.form.cleaned_data.get("customerId") is None:
            return queryset.order_by("-id")
        return queryset.order_by(f"-{self.newest_by}", "-id")


class MembershipFilter(CustomerRowsFilter):
    status = django_filters.ChoiceFilter(choices=MembershipStatus.choices, label=_("Status"))
    newest_by = "start_date"

    class Meta:
        model = Membership
        fields = []


class LevelChangeFilter(CustomerRowsFilter):
    newest_by = "created_at"

    class Meta:
        model = LevelChange
        fields = []


class BenefitUsageFilter(CustomerRowsFilter):
    newest_by = "used_at"

    class Meta:
        model = BenefitUsage
        fields = []


class CustomerRowsListView(ListAPIView):
    """A paginated list filtered by a CustomerRowsFilter (filterset_class)."""

    pagination_class = PagePagination
    filter_backends = [DjangoFilterBackend]
