"""The values customer services take, normalised once: phone (E.164), e-mail, customer number.

Each raises ValidationError keyed by the model field it checks."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.pii import normalize_email, normalize_phone
from customers.models import (
    GENERATED_CUSTOMER_NO,
)


def clean_phone(phone: str) -> str:
    try:
        return normalize_phone(phone)
    except ValidationError as error:
        raise ValidationError({"phone": error.messages}) from None


def clean_email(email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    try:
        return normalize_email(email)
    except ValidationError as error:
        raise ValidationError({"email": error.messages}) from None


def clean_customer_no(customer_no: str) -> str:
    customer_no = customer_no.strip()
    if re.match(GENERATED_CUSTOMER_NO, customer_no):
        raise ValidationError(
            {"customer_no": [_("Numbers like C00001 are generated; choose another format.")]}
        )
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$", customer_no):
        raise ValidationError({"customer_no": [_("Use up to 32 letters, digits, '-' or '_'.")]})
    return customer_no
