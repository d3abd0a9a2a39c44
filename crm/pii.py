"""Normalising, validating and masking the personal data we hold: phone numbers and e-mails."""

import re
from functools import cache

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

MOBILE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


def normalize_phone(raw: str) -> str:
    """Return the mobile number in E.164 (`+8613800138000`), or raise ValidationError.

    A number without `+` is read as a number of DEFAULT_PHONE_REGION (Chinese mainland by default);
    international numbers need their `+` prefix.
    """
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("Enter a mobile phone number."), code="required")
    national = _plain_national_mobile(text)
    if national is not None:
        return f"+{_country_code()}{national}"
    try:
        number = phonenumbers.parse(text, settings.DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            _("Enter a valid mobile number, such as 13800138000 or +85291234567."), code="invalid"
        ) from None
    if (
        not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) not in MOBILE_TYPES
    ):
        raise ValidationError(
            _("Enter a valid mobile number, such as 13800138000 or +85291234567."), code="invalid"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _plain_national_mobile(text: str) -> str | None:
    """The common case without the full parser (about 50 µs a number, the cost of an import):
    a plain national number that matches the region's own mobile pattern from phonenumbers'
    metadata is valid and mobile by the parser's rules too. Anything else goes to the parser."""
    digits = text.replace(" ", "").replace("-", "")
    pattern = _mobile_pattern()
    if pattern is None or not digits.isdigit() or not pattern.fullmatch(digits):
        return None
    return digits


@cache
def _mobile_pattern() -> re.Pattern | None:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(settings.DEFAULT_PHONE_REGION)
    if metadata is None or metadata.mobile is None:
        return None
    return re.compile(metadata.mobile.national_number_pattern)


@cache
def _country_code() -> int:
    return phonenumbers.country_code_for_region(settings.DEFAULT_PHONE_REGION)


def display_phone(e164: str) -> str:
    """Numbers of the default region without their country code (`13800138000`), others in E.164."""
    number = phonenumbers.parse(e164)
    if phonenumbers.region_code_for_number(number) == settings.DEFAULT_PHONE_REGION:
        return phonenumbers.national_significant_number(number)
    return e164


def phone_last4(e164: str) -> str:
    return e164[-4:]


def normalize_email(raw: str) -> str:
    """Lower-cased and validated; raises ValidationError with a message that says what to fix."""
    text = (raw or "").strip().lower()
    validate_email_address(text)
    return text


def validate_email_address(text: str) -> None:
    try:
        validate_email(text)
    except ValidationError:
        raise ValidationError(
            _("Enter a valid e-mail address, such as name@example.com."), code="invalid"
        ) from None


def mask_phone(phone: str) -> str:
    """`13800138000` -> `138****8000`: the first three and the last four digits stay."""
    if not phone:
        return phone
    if len(phone) <= 7:
        return "*" * (len(phone) - 2) + phone[-2:]
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_birthday(birthday) -> str:
    """`1990-05-20` -> `****-05-20`: the year, which gives the age away, is hidden; the day
    stays for birthday greetings. Text that is not such a date is hidden whole."""
    text = "" if birthday is None else str(birthday)
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        return "****" + text[4:]
    return "*" * len(text)


def mask_text(text: str) -> str:
    """Any other personal value: the first and last characters stay, the rest is hidden."""
    if len(text) <= 2:
        return "*" * len(text)
    return text[0] + "*" * (len(text) - 2) + text[-1]


def mask_email(email: str) -> str:
    """`zhangsan@example.com` -> `z***n@example.com`."""
    if not email:
        return email
    if "@" not in email:
        # Not an address (a bad cell of an import file): hidden like any text.
        return mask_text(email)
    local, domain = email.split("@", 1)
    if len(local) <= 2:
        return local[:1] + "*" + "@" + domain
    return f"{local[0]}***{local[-1]}@{domain}"
