"""Forms of the membership admin (membership/admin/). They only validate input; the services
apply the rules, and what a service refuses comes back onto the form (crm.admin_base)."""

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.admin_base import ServiceErrorsForm
from membership.models import EnrollMethod, Membership, MembershipLevel, PointsEntry
from membership.services.enrollment import MAX_DURATION_DAYS


class EnrollForm(ServiceErrorsForm):
    """The member list's "add": enrol a customer from today (membership.services.enrollment)."""

    duration_days = forms.IntegerField(
        label=_("duration (days)"), min_value=1, max_value=MAX_DURATION_DAYS, initial=365
    )

    class Meta:
        model = Membership
        fields = ("customer", "level", "duration_days", "method", "source")


class RenewForm(forms.Form):
    duration_days = forms.IntegerField(
        label=_("days to add"), min_value=1, max_value=MAX_DURATION_DAYS, initial=365
    )
    method = forms.ChoiceField(label=_("enrolment method"), choices=EnrollMethod.choices)
    payment_reference = forms.CharField(
        label=_("payment reference"),
        max_length=64,
        required=False,
        help_text=_("For one membership only: a payment pays once."),
    )


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
