"""One import row checked and converted, with the same rules as the customer services.

`prepare_customer_rows` is pure Python (no database), so a pool of worker processes can run it
on batches of a large file; the database checks (duplicates against existing customers) are
set-based SQL in customers.imports.customers.
"""

import re
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.translation import gettext

from crm.encryption import blind_index, encrypt
from crm.pii import normalize_email, normalize_phone, phone_last4
from customers.models import Customer, CustomerSource, Gender, Tag
from customers.search import name_grams
from customers.services import _clean_customer_no

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
# (name, name_grams, phone, phone_index, phone_last4, email, email_index, gender, birthday,
#  source, register_date, tags, customer_no): the staging table's columns after row_no.
STAGING_COLUMNS = (
    "name",
    "name_grams",
    "phone",
    "phone_index",
    "phone_last4",
    "email",
    "email_index",
    "gender",
    "birthday",
    "source",
    "register_date",
    "tags",
    "customer_no",
)


def _sources() -> dict[str, str]:
    """Source values, English labels and Chinese labels, lower-cased, to the value."""
    lookup = {}
    for value, label in CustomerSource.choices:
        lookup[value] = value
        for language in ("en", "zh-hans"):
            with translation.override(language):
                lookup[str(label).strip().lower()] = value
    return lookup


class PreparedRow:
    """A valid row: its staging values and the keys that must be unique within the file."""

    __slots__ = ("customer_no", "email_index", "phone_index", "row_no", "tags", "values")

    def __init__(self, row_no, values, tags):
        self.row_no = row_no
        self.values = values
        self.phone_index = values[3]
        self.email_index = values[6]
        self.customer_no = values[12]
        self.tags = tags


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
        values, tags, reasons = _prepare(cells, columns, sources, labels, today)
        if reasons:
            errors[row_no] = reasons
        else:
            prepared.append(PreparedRow(row_no, values, tags))
    return prepared, errors


def _prepare(cells, columns, sources, labels, today):
    def cell(field):
        index = columns.get(field)
        return cells[index].strip() if index is not None else ""

    reasons = []
    name = " ".join(cell("name").split())
    if not name:
        reasons.append(gettext("Name is required."))
    elif len(name) > NAME_MAX:
        reasons.append(gettext("Name has at most %(max)s characters.") % {"max": NAME_MAX})
    phone = _checked(reasons, labels["phone"], normalize_phone, cell("phone"))
    email = None
    if cell("email"):
        email = _checked(reasons, labels["email"], normalize_email, cell("email"))
    gender = None
    if cell("gender"):
        gender = GENDERS.get(cell("gender").lower())
        if gender is None:
            reasons.append(gettext("Gender must be 男/女/未知 or male/female/unknown."))
    birthday = _date(reasons, labels["birthday"], cell("birthday"), today)
    register_date = _date(reasons, labels["register_date"], cell("register_date"), today)
    source = None
    if cell("source"):
        source = sources.get(cell("source").lower())
        if source is None:
            reasons.append(
                gettext("Unknown source %(value)s; use one of: %(choices)s.")
                % {"value": cell("source"), "choices": ", ".join(CustomerSource.values)}
            )
    tags = sorted({tag.strip() for tag in TAG_SEPARATORS.split(cell("tags")) if tag.strip()})
    if any(len(tag) > TAG_MAX for tag in tags):
        reasons.append(gettext("A tag name has at most 50 characters."))
    customer_no = None
    if cell("customer_no"):
        try:
            customer_no = _clean_customer_no(cell("customer_no"))
        except ValidationError as error:
            reasons.append(
                "%s: %s" % (gettext("Customer number"), " ".join(error.messages))  # noqa: UP031
            )
    if reasons:
        return None, tags, reasons
    values = (
        name,
        name_grams(name),
        encrypt(phone),
        blind_index(phone, purpose="phone"),
        phone_last4(phone),
        encrypt(email) if email else None,
        blind_index(email, purpose="email") if email else None,
        gender,
        birthday,
        source,
        register_date,
        tags,
        customer_no,
    )
    return values, tags, []


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


def copy_line(row_no: int, values) -> str:
    """One line of PostgreSQL COPY text format: row_no, then STAGING_COLUMNS."""
    return "\t".join([str(row_no), *map(_copy_value, values)]) + "\n"


def _copy_value(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()
    if isinstance(value, list):
        return _copy_text("{" + ",".join(_array_item(item) for item in value) + "}")
    if isinstance(value, date):
        return value.isoformat()
    return _copy_text(str(value))


def _array_item(item: str) -> str:
    return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _copy_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
