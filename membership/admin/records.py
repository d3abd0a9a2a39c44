"""What the membership screens share: the list of one customer's records (CustomerRecordsAdmin),
with its per-customer change page, and the permissions and links they use."""

from functools import partial

from django.contrib import admin, messages
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from crm.admin_base import (
    SERVICE_ERRORS,
    CustomerReadsAdmin,
    EstimatedCountAdmin,
    add_service_errors,
    planned_rows,
)
from customers.models import Customer
from membership.services.levels import (
    level_choices,
)

CUSTOMER_FILTER = "customer__id__exact"
PANEL_ENTRIES = 10
PANEL_CHANGES = 5
ADJUST_PERMISSION = "membership.adjust_points"
CHANGE_LEVEL_PERMISSION = "membership.change_customer_level"
# Enrolling in the admin: the model's add permission (docs/roles.md) and the service's own.
ENROLL_PERMISSIONS = ("membership.add_membership", "membership.enroll_member")


# --- shared --------------------------------------------------------------------------------


def narrowed_to_customer(request) -> bool:
    """One customer's records: the list's filter by customer, or a search by customer number."""
    return bool(request.GET.get(CUSTOMER_FILTER) or request.GET.get(SEARCH_VAR, "").strip())


def customer_page_url(customer_id: int) -> str:
    return reverse("admin:customers_customer_change", args=[customer_id]) + "#tab-membership"


def tier_names() -> dict[str, str]:
    return dict(level_choices())


class CustomerRecordsAdmin(CustomerReadsAdmin, EstimatedCountAdmin):
    """A list of per-customer rows. Sorted only in the order of an index: newest first by id,
    or, for one customer, by the (customer, time) index named in `customer_ordering`. The search
    box takes an exact customer number (one indexed lookup).

    A subclass may name the change that writes such rows for one customer (`customer_change`,
    e.g. "adjust"): a page of its own at adjust/<customer id>/ for those with
    `customer_change_permission`, offered on the list of one customer. The page shows
    `customer_change_form`, calls `perform_customer_change` (a service) and, when the service
    refuses, shows its message on the form.
    """

    customer_ordering: tuple[str, ...] = ()
    ordering = ("-id",)
    sortable_by = ()
    # Only so that the search box shows; get_search_results does the searching.
    search_fields = ("customer__customer_no",)
    search_help_text = _("Exact customer number, e.g. C00123.")
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    change_list_template = "admin/membership/customer_records_change_list.html"

    customer_change: str | None = None
    customer_change_title = None
    customer_change_permission: str | None = None

    @admin.display(description=_("customer number"))
    def customer_no(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:customers_customer_change", args=[obj.customer_id]),
            obj.customer.customer_no,
        )

    @admin.display(description=_("name"))
    def customer_name(self, obj):
        return obj.customer.name

    def get_ordering(self, request):
        return self.customer_ordering if narrowed_to_customer(request) else self.ordering

    def get_search_results(self, request, queryset, search_term):
        number = search_term.strip().upper()
        if not number:
            return queryset, False
        customer_id = Customer.objects.filter(customer_no=number).values_list("pk", flat=True)
        # Resolved first, so that the planner sees one customer id and takes its index.
        found = customer_id.first()
        return (queryset.filter(customer_id=found) if found else queryset.none()), False

    def count_estimate(self, request, queryset):
        return None if narrowed_to_customer(request) else partial(planned_rows, queryset)

    # --- the change of one customer's records ---

    def customer_change_url_name(self) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{self.customer_change}"

    def get_urls(self):
        urls = super().get_urls()
        if self.customer_change is None:
            return urls
        view = self.admin_site.admin_view(self.customer_change_view)
        route = f"{self.customer_change.replace('_', '-')}/<int:customer_id>/"
        return [path(route, view, name=self.customer_change_url_name()), *urls]

    def changelist_view(self, request, extra_context=None):
        context = dict(extra_context or {})
        customer_id = request.GET.get(CUSTOMER_FILTER, "")
        may_change = self.customer_change and request.user.has_perm(self.customer_change_permission)
        if may_change and customer_id.isdigit():
            context["customer_change_url"] = reverse(
                f"admin:{self.customer_change_url_name()}", args=[int(customer_id)]
            )
            context["customer_change_title"] = self.customer_change_title
        return super().changelist_view(request, context)

    def customer_change_view(self, request, customer_id):
        if not request.user.has_perm(self.customer_change_permission):
            raise PermissionDenied
        customer = get_object_or_404(
            Customer.objects.only("pk", "customer_no", "name", "level", "points"), pk=customer_id
        )
        form = self.customer_change_form(request, customer)
        if request.method == "POST" and form.is_valid():
            try:
                # A savepoint of its own: a refusal rolls back whatever the service wrote.
                with transaction.atomic():
                    result = self.perform_customer_change(request, customer, form.cleaned_data)
            except SERVICE_ERRORS as error:
                add_service_errors(form, error)
            else:
                messages.success(request, self.customer_change_message(result))
                return redirect(customer_page_url(customer.pk))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": self.customer_change_title,
            "form": form,
            "customer": customer,
            "tier_name": tier_names().get(customer.level, customer.level),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/membership/customer_action.html", context)

    def customer_change_form(self, request, customer):
        raise NotImplementedError

    def perform_customer_change(self, request, customer, data):
        raise NotImplementedError

    def customer_change_message(self, result) -> str:
        raise NotImplementedError
