"""The kernel's admin pieces: a service's refusal lands on the form field it names."""

import pytest
from django import forms
from django.core.exceptions import ValidationError

from crm.admin_base import add_service_errors
from crm.errors import Conflict


class EnrolForm(forms.Form):
    customer = forms.CharField(required=False)
    customer_no = forms.CharField(required=False)
    level = forms.CharField(required=False)


@pytest.mark.parametrize(
    ("error", "field"),
    [
        (ValidationError({"customer_no": ["taken"]}), "customer_no"),
        (Conflict("taken", fields={"customerNo": ["taken"]}), "customer_no"),
        (Conflict("archived", fields={"customerId": ["archived"]}), "customer"),
        (Conflict("same", fields={"levelId": ["same"]}), "level"),
        (Conflict("other", fields={"duration": ["out of range"]}), None),
        (ValidationError("no field"), None),
    ],
)
def test_a_service_error_lands_on_the_field_it_names(error, field):
    form = EnrolForm(data={})
    form.is_valid()

    add_service_errors(form, error)

    assert list(form.errors) == ["__all__" if field is None else field]
