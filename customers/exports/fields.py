"""The fields an export may hold: each one's key (the list API's camelCase name), its header
(translated when the file is written) and how its cell is read from a values_list row.

A field marked `pii` is personal data: masked unless the export is unmasked (customers.pii_access
for phone and e-mail, which are decrypted only when chosen; crm.pii for the birthday). Choice
fields are written as their translated labels.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.conf import settings
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.pii import mask_birthday, mask_phone
from customers.models import Customer, CustomerTag
from customers.pii_access import shown_email, shown_phone


@dataclass(frozen=True)
class ExportField:
    key: str
    # A Customer column (values_list); None for "tags", which come from another table.
    column: str | None
    kind: str = "plain"  # plain | choice | datetime | phone | email | birthday | tags
    header: Any = None
    pii: bool = False

    def header_text(self) -> str:
        if self.header is not None:
            return str(self.header)
        return str(Customer._meta.get_field(self.column).verbose_name)


FIELDS: dict[str, ExportField] = {
    field.key: field
    for field in (
        ExportField("customerNo", "customer_no"),
        ExportField("name", "name"),
        ExportField("phone", "phone", "phone", pii=True),
        ExportField("email", "email", "email", pii=True),
        ExportField("gender", "gender", "choice"),
        ExportField("birthday", "birthday", "birthday", pii=True),
        ExportField("level", "level", "choice"),
        ExportField("points", "points"),
        ExportField("totalSpent", "total_spent"),
        ExportField("orderCount", "order_count"),
        ExportField("avgOrderValue", "avg_order_value"),
        ExportField("firstOrderDate", "first_order_date", "datetime"),
        ExportField("lastOrderDate", "last_order_date", "datetime"),
        ExportField("registerDate", "register_date"),
        ExportField("status", "status", "choice"),
        ExportField("source", "source", "choice"),
        ExportField("tags", None, "tags", header=_("tags")),
        ExportField("createdAt", "created_at", "datetime"),
    )
}
DEFAULT_FIELDS = [
    "customerNo",
    "name",
    "phone",
    "gender",
    "level",
    "totalSpent",
    "orderCount",
    "lastOrderDate",
    "registerDate",
    "status",
]
PII_FIELDS = {key for key, field in FIELDS.items() if field.pii}


def unknown_fields(keys) -> list[str]:
    return [key for key in keys if key not in FIELDS]


def headers(keys) -> list[str]:
    """The translated column headers, in the active language."""
    return [FIELDS[key].header_text() for key in keys]


class RowReader:
    """Turns batches of `values_list(*reader.columns)` rows into the export's cells.

    The first column is always the id (the keyset and the tags need it). Build it while the
    export's language is active: the choice labels are translated once, here.
    """

    def __init__(self, keys: list[str], *, masked: bool):
        self.keys = list(keys)
        self.with_tags = "tags" in self.keys
        self.columns = ["id"]
        for key in self.keys:
            column = FIELDS[key].column
            if column and column not in self.columns:
                self.columns.append(column)
        position = {column: index for index, column in enumerate(self.columns)}
        self._cells: list[tuple[int | None, Callable]] = [
            (position.get(FIELDS[key].column), _renderer(FIELDS[key], masked=masked))
            for key in self.keys
        ]

    def rows(self, batch: list[tuple]) -> list[list]:
        tags = _tags_of([values[0] for values in batch]) if self.with_tags else {}
        return [
            [
                render(tags.get(values[0], ()) if index is None else values[index])
                for index, render in self._cells
            ]
            for values in batch
        ]


def _renderer(field: ExportField, *, masked: bool) -> Callable:
    if field.kind == "phone":
        return _phone_renderer(masked=masked)
    if field.kind == "email":
        return lambda value: shown_email(value, reveal=not masked) or ""
    if field.kind == "birthday":
        return (lambda value: mask_birthday(value) if value else "") if masked else _plain
    if field.kind == "choice":
        labels = {value: str(label) for value, label in _choices(Customer, field.column)}
        return lambda value: labels.get(value, value)
    if field.kind == "datetime":
        return _local_datetime
    if field.kind == "tags":
        return lambda names: ", ".join(sorted(names))
    return _plain


def _phone_renderer(*, masked: bool) -> Callable:
    """shown_phone, without parsing every number: a stored E.164 number of the default
    region's country code is shown as its digits after the code, which is what display_phone
    returns when that code belongs to the default region alone (+86: China). Parsing cost
    about 120 µs a row, more than the rest of the row together."""
    region = settings.DEFAULT_PHONE_REGION
    country_code = phonenumbers.country_code_for_region(region)
    if phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code) != (region,):
        return lambda value: shown_phone(value, reveal=not masked) or ""
    prefix = f"+{country_code}"

    def render(value):
        if not value:
            return ""
        if not value.startswith(prefix):
            return shown_phone(value, reveal=not masked)
        national = value[len(prefix) :]
        return mask_phone(national) if masked else national

    return render


def _choices(model: type[Model], column: str):
    return model._meta.get_field(column).choices


def _plain(value):
    return "" if value is None else value


def _local_datetime(value) -> str:
    # Text, not a datetime: Excel cannot hold a time zone, and CSV and PDF want one format.
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _tags_of(ids: list[int]) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = {}
    for customer_id, name in CustomerTag.objects.filter(customer_id__in=ids).values_list(
        "customer_id", "tag__name"
    ):
        tags.setdefault(customer_id, []).append(name)
    return tags
