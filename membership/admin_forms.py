"""Forms of the membership admin (membership/admin.py). They only validate input; the services
apply the rules, and what a service refuses comes back onto the form (`add_service_errors`)."""

import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.errors import BusinessError
from customers.admin_forms import service_errors
from membership.models import Membership, MembershipLevel, PointsEntry
from membership.services.enrollment import MAX_DURATION_DAYS

SERVICE_ERRORS = (ValidationError, BusinessError)

# The services name fields as the API does; the forms use the model's names.
SERVICE_FIELD_NAMES = {
    "customerId": "customer",
    "levelId": "level",
    "duration": "duration_days",
    "downgradeTo": "downgrade_to",
}


def add_service_errors(form: forms.Form, error: Exception) -> None:
    """Show what a service refused on the form: on the field it names, else above the form."""
    for field, messages in service_errors(error).items():
        field = SERVICE_FIELD_NAMES.get(field, field)
        form.add_error(field if field in form.fields else None, messages)


class ServiceRefused(Exception):
    """Raised from ModelAdmin.save_model so that the admin view's transaction rolls back; the
    admin then shows the form again with the service's message (ServiceErrorsForm)."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


class ServiceErrorsForm(forms.ModelForm):
    """A model form that shows the errors of a refused save; the base of a ModelAdmin's form.
    The admin sets `service_error` on the class it builds for the request (ModelAdmin.get_form
    makes a new class every time)."""

    service_error = None

    def clean(self):
        cleaned = super().clean()
        if self.service_error is not None:
            add_service_errors(self, self.service_error)
        return cleaned


class EnrollForm(ServiceErrorsForm):
    """The member list's "add": enrol a customer from today (membership.services.enrollment)."""

    duration_days = forms.IntegerField(
        label=_("duration (days)"), min_value=1, max_value=MAX_DURATION_DAYS, initial=365
    )

    class Meta:
        model = Membership
        fields = ("customer", "level", "duration_days", "method", "source")


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )


class AdjustPointsForm(forms.Form):
    adjustment = forms.IntegerField(
        label=_("points"),
        help_text=_("Positive to add, negative to deduct."),
    )
    reason = forms.CharField(
        label=_("reason"), max_length=PointsEntry._meta.get_field("reason").max_length
    )
    # One key per rendering of the form: a form sent twice (a double click, a reload) is
    # applied once (membership.services.points.adjust_points is idempotent by key).
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["idempotency_key"].initial = uuid.uuid4().hex


class ChangeLevelForm(ReasonForm):
    level = forms.ModelChoiceField(
        label=_("new tier"),
        queryset=MembershipLevel.objects.order_by("sort_order"),
        to_field_name="code",
    )
    field_order = ("level", "reason")

    def __init__(self, *args, current: str, **kwargs):
        super().__init__(*args, **kwargs)
        # The current tier is not a change; the service refuses it too.
        self.fields["level"].queryset = self.fields["level"].queryset.exclude(code=current)
