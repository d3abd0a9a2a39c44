"""What every app's staff screens are built from, so that each app's admin stays about its own
models: counts that stay cheap on large tables, a model admin whose saves go through a service
(and shows the service's refusal on the form), and the confirmation page of an admin action.

The services record the audit events of what they do, so a ServiceSaveAdmin writes only
Django's LogEntry; AuditedModelAdmin (crm.admin_audit) is for models the admin saves itself.
"""

import re
from functools import partial

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import IS_POPUP_VAR, ORDER_VAR, PAGE_VAR, TO_FIELD_VAR
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.template.response import TemplateResponse
from django.utils.functional import cached_property

from crm.access_log import register_read
from crm.api.pagination import planner_estimate
from crm.errors import BusinessError

# --- the access log ------------------------------------------------------------------------


class CustomerReadsAdmin(admin.ModelAdmin):
    """An admin of rows that belong to customers (addresses, communications, points ...): its
    list and its pages of one row log which customers' records they showed (crm.access_log),
    as the customer screens do."""

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        if request.method == "GET":
            rows = list(changelist.result_list)
            register_read(customer_ids=[row.customer_id for row in rows], count=len(rows))
        return changelist

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and request.method == "GET":
            register_read(customer_ids=[obj.customer_id])
        return obj


# --- counting ------------------------------------------------------------------------------

# Below this many rows an exact COUNT is cheap and the estimate may be stale: count exactly.
ESTIMATE_ABOVE = 100_000
# Query parameters of a changelist that do not narrow the list.
NON_FILTER_PARAMS = {PAGE_VAR, ORDER_VAR, IS_POPUP_VAR, TO_FIELD_VAR, "e"}


def estimated_rows(model) -> int:
    """The planner's row estimate for the model's table (kept by autovacuum / ANALYZE)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            [model._meta.db_table],
        )
        row = cursor.fetchone()
    return max(row[0], 0) if row else 0


def estimated_table_rows(model) -> int | None:
    """The table's estimated rows; None when it is small enough to count exactly."""
    rows = estimated_rows(model)
    return rows if rows >= ESTIMATE_ABOVE else None


def planned_rows(queryset) -> int | None:
    """The planner's estimate of the rows `queryset` returns (EXPLAIN runs nothing), for tables
    too large to count on every page; None when the table is small enough to count exactly."""
    if estimated_rows(queryset.model) < ESTIMATE_ABOVE:
        return None
    return planner_estimate(queryset)


class EstimatingPaginator(Paginator):
    """Counts exactly, except when given an `estimate` function that returns a number."""

    def __init__(self, *args, estimate=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.estimate = estimate

    @cached_property
    def count(self):
        if self.estimate is not None:
            estimated = self.estimate()
            if estimated is not None:
                return estimated
        return super().count


def is_unfiltered(request) -> bool:
    return not any(value for key, value in request.GET.items() if key not in NON_FILTER_PARAMS)


class EstimatedCountAdmin(admin.ModelAdmin):
    """A changelist that counts its rows only where counting is cheap: `count_estimate` gives
    the function that estimates them, or None to count exactly. By default the unfiltered list
    of a large table is estimated from the planner's statistics."""

    def count_estimate(self, request, queryset):
        return partial(estimated_table_rows, self.model) if is_unfiltered(request) else None

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        estimate = self.count_estimate(request, queryset)
        return EstimatingPaginator(
            queryset, per_page, orphans, allow_empty_first_page, estimate=estimate
        )


# --- saving through a service --------------------------------------------------------------

SERVICE_ERRORS = (ValidationError, BusinessError)


def service_errors(error: Exception) -> dict[str | None, list[str]]:
    """A service's ValidationError or BusinessError as {model field name or None: [messages]}.
    Services name fields as the models do, so the names are the forms' too."""
    if isinstance(error, ValidationError):
        if hasattr(error, "error_dict"):
            return {
                (None if field == NON_FIELD_ERRORS else field): list(messages)
                for field, messages in error.message_dict.items()
            }
        return {None: error.messages}
    fields = getattr(error, "fields", None)
    if fields:
        return {field: [str(message) for message in messages] for field, messages in fields.items()}
    return {None: [str(getattr(error, "message", error))]}


def service_error_messages(error: Exception) -> list[str]:
    """Every message of a service's refusal, for an action's message bar."""
    return [message for messages in service_errors(error).values() for message in messages]


def add_service_errors(form: forms.BaseForm, error: Exception) -> None:
    """Show what a service refused on the form: on the field it names, else above the form."""
    for field, messages in service_errors(error).items():
        form.add_error(form_field(form, field), messages)


def form_field(form: forms.BaseForm, name: str | None) -> str | None:
    """The form's field a service's error names. Services name fields as the models do
    (customer_no); a BusinessError's fields still carry the API's spelling (customerNo,
    customerId) until the API's error handler camelizes those too, so that spelling is read
    back by rule, not by a table per admin."""
    if name is None:
        return None
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    for candidate in (name, snake, snake.removesuffix("_id")):
        if candidate in form.fields:
            return candidate
    return None


class ServiceRefused(Exception):
    """Raised from ModelAdmin.save_model (or save_formset) so that the admin view's transaction
    rolls back; ServiceSaveAdmin then shows the form again with the service's message."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


class ServiceErrorsForm(forms.ModelForm):
    """A model form that shows the errors of a refused save; the base of a ServiceSaveAdmin's
    form. The admin sets `service_error` on the class it builds for the request
    (ModelAdmin.get_form makes a new class every time)."""

    service_error = None

    def clean(self):
        cleaned = super().clean()
        if self.service_error is not None:
            add_service_errors(self, self.service_error)
        return cleaned


class ServiceSaveAdmin(admin.ModelAdmin):
    """A model admin whose save_model (and save_formset, delete_model) call services. When a
    service refuses (ServiceRefused), the view's transaction rolls back and the same form shows
    again with the service's message on the field it concerns. The services audit what they do,
    so the admin keeps only its LogEntry."""

    form = ServiceErrorsForm

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefused as refused:
            request._crm_service_error = refused.error
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.service_error = getattr(request, "_crm_service_error", None)
        return form


def call_service(service, **kwargs):
    """Call `service(**kwargs)` from a save_model: a refusal becomes ServiceRefused."""
    try:
        return service(**kwargs)
    except SERVICE_ERRORS as error:
        raise ServiceRefused(error) from error


# --- admin actions -------------------------------------------------------------------------


def action_confirmation(
    modeladmin, request, *, template: str, title, form, count: int, **context
) -> TemplateResponse:
    """The intermediate page of an admin action: `form` asks what to apply (or why), and its
    submit button ("apply") posts the same selection back to the action."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "opts": modeladmin.opts,
        "action": request.POST.get("action"),
        "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "count": count,
        "media": modeladmin.media + form.media,
        **context,
    }
    return TemplateResponse(request, template, context)
