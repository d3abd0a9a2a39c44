"""Phone normalisation: the fast path for plain national mobiles agrees with the full parser."""

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.pii import MOBILE_TYPES, mask_email, mask_phone, normalize_phone


def parser_result(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None
    if (
        not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) not in MOBILE_TYPES
    ):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def ours(text: str) -> str | None:
    try:
        return normalize_phone(text)
    except ValidationError:
        return None


@settings(max_examples=3000, deadline=None)
@given(st.from_regex(r"1[0-9]{10}", fullmatch=True) | st.from_regex(r"[0-9]{5,13}", fullmatch=True))
def test_normalize_phone_agrees_with_phonenumbers(text):
    assert ours(text) == parser_result(text)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("138-0013-8000", "+8613800138000"),
        ("+86 138 0013 8000", "+8613800138000"),
        ("+85291234567", "+85291234567"),
    ],
)
def test_normalize_phone_accepts_common_spellings(raw, e164):
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["", "12345", "01012345678", "abc", "+86 010 1234 5678"])
def test_normalize_phone_refuses_what_is_not_a_mobile(raw):
    with pytest.raises(ValidationError):
        normalize_phone(raw)


def test_masking():
    assert mask_phone("13800138000") == "138****8000"
    assert mask_email("zhangsan@example.com") == "z***n@example.com"
