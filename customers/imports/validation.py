"""One import row checked and converted, with the same rules as the customer services.

`prepare_customer_rows` is pure Python (no database), so a pool of worker processes can run it
on batches of a large file; the database checks (duplicates against existing customers) are
made batch by batch in customers.imports.customers.
"""

import re
from collections import defaultdict
from datetime import date, datetime
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.translation import gettext

from crm.pii import normalize_email, normalize_phone
from customers.models import Customer, CustomerSource, Gender, Tag
from customers.search import contact_columns, name_grams
from customers.services.fields import clean_customer_no

NAME_MAX = Customer._meta.get_field("name").max_length
TAG_MAX = Tag._meta.get_field("name").max_length
TAG_SEPARATORS = re.compile(r"[,，、;；|]")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日", "%Y-%m-%d %H:%M:%S")
GENDERS = {
    "male": Gender.MALE,
    "m": Gender.MALE,
    "男": Gender.MALE,
    "男性": Gender.MALE,
    "female": Gender.FEMALE,
    "f": Gender.FEMALE,
    "女": Gender.FEMALE,
    "女性": Gender.FEMALE,
    "unknown": Gender.UNKNOWN,
    "未知": Gender.UNKNOWN,
    "保密": Gender.UNKNOWN,
}


def _sources() -> dict[str, str]:
    """Source values, English labels and Chinese labels, lower-cased, to the value."""
    lookup = {}
    for value, label in CustomerSource.choices:
        lookup[value] = value
        for language in ("en", "zh-hans"):
            with translation.override(language):
                lookup[str(label).strip().lower()] = value
    return lookup


class PreparedRow(NamedTuple):
    """A valid row's values as the customer table holds them (phone and e-mail encrypted, with
    their blind indexes), or None for an empty optional cell."""

    row_no: int
    name: str
    name_grams: list[str]
    phone: str
    phone_index: bytes
    phone_last4: str
    email: str | None
    email_index: bytes | None
    gender: str | None
    birthday: date | None
    source: str | None
    register_date: date | None
    tags: list[str]
    customer_no: str | None


def prepare_customer_rows(batch, columns: dict[str, int], today: date | None = None):
    """[(row_no, cells)] -> ([PreparedRow], {row_no: [reasons]})."""
    today = today or timezone.localdate()
    sources = _sources()
    labels = {
        "phone": gettext("Phone"),
        "email": gettext("E-mail"),
        "birthday": gettext("Birthday"),
        "register_date": gettext("Registration date"),
    }
    prepared, errors = [], {}
    for row_no, cells in batch:
        row, reasons = _prepare(row_no, cells, columns, sources, labels, today)
        if reasons:
            errors[row_no] = reasons
        else:
            prepared.append(row)
    return prepared, errors


def _prepare(row_no, cells, columns, sources, labels, today):
    # One dict per row (a missing column reads as empty) rather than a lookup function per
    # cell: this runs for every row of the file.
    cell = defaultdict(str, {field: cells[index].strip() for field, index in columns.items()})
    reasons = []
    name = " ".join(cell["name"].split())
    if not name:
        reasons.append(gettext("Name is required."))
    elif len(name) > NAME_MAX:
        reasons.append(gettext("Name has at most %(max)s characters.") % {"max": NAME_MAX})
    phone = _checked(reasons, labels["phone"], normalize_phone, cell["phone"])
    email = None
    if cell["email"]:
        email = _checked(reasons, labels["email"], normalize_email, cell["email"])
    gender = None
    if cell["gender"]:
        gender = GENDERS.get(cell["gender"].lower())
        if gender is None:
            reasons.append(gettext("Gender must be 男/女/未知 or male/female/unknown."))
    birthday = _date(reasons, labels["birthday"], cell["birthday"], today)
    register_date = _date(reasons, labels["register_date"], cell["register_date"], today)
    source = None
    if cell["source"]:
        source = sources.get(cell["source"].lower())
        if source is None:
            reasons.append(
                gettext("Unknown source %(value)s; use one of: %(choices)s.")
                % {"value": cell["source"], "choices": ", ".join(CustomerSource.values)}
            )
    tags = sorted({tag.strip() for tag in TAG_SEPARATORS.split(cell["tags"]) if tag.strip()})
    if any(len(tag) > TAG_MAX for tag in tags):
        reasons.append(gettext("A tag name has at most 50 characters."))
    customer_no = None
    if cell["customer_no"]:
        try:
            customer_no = clean_customer_no(cell["customer_no"])
        except ValidationError as error:
            reasons.append(
                "%s: %s" % (gettext("Customer number"), " ".join(error.messages))  # noqa: UP031
            )
    if reasons:
        return None, reasons
    row = PreparedRow(
        row_no,
        name,
        name_grams(name),
        *contact_columns(phone, email),
        gender,
        birthday,
        source,
        register_date,
        tags,
        customer_no,
    )
    return row, []


def _checked(reasons, label, normalize, raw):
    try:
        return normalize(raw)
    except ValidationError as error:
        reasons.append(f"{label}: {' '.join(error.messages)}")
        return None


def parse_date(text: str) -> date:
    """A date in one of DATE_FORMATS; raises ValueError."""
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        return date.fromisoformat(text)
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(text)


def _date(reasons, label, text, today):
    if not text:
        return None
    try:
        value = parse_date(text)
    except ValueError:
        reasons.append(
            gettext("%(field)s: %(value)s is not a date such as 1990-05-20.")
            % {"field": label, "value": text}
        )
        return None
    if value > today or value.year < 1900:
        reasons.append(
            gettext("%(field)s: %(value)s is not a plausible date.")
            % {"field": label, "value": text}
        )
        return None
    return value
