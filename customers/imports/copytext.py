"""Import rows in PostgreSQL's COPY text format.

The worker processes render each valid row once: the columns a new customer shares with its
creation history row, its name grams, and (when existing customers are updated) the values an
update takes. The process that writes to the database then only joins these strings with the
ids it allocates, so that it spends its time waiting on the database, not formatting.
"""

from datetime import date
from typing import NamedTuple

NULL = r"\N"

# A new customer's columns that its creation history row repeats, in the order of
# CopyRow.fields. The history row leaves out name_grams and updated_at (excluded from history).
NEW_CUSTOMER_COLUMNS = (
    "name",
    "phone",
    "phone_index",
    "phone_last4",
    "email",
    "email_index",
    "gender",
    "birthday",
    "register_date",
    "source",
    "avatar",
    "level",
    "points",
    "total_spent",
    "order_count",
    "avg_order_value",
    "status",
    "created_at",
)
# The values an update takes (after customer_id), in the order of CopyRow.update; a null keeps
# the customer's own value.
UPDATE_COLUMNS = ("name", "name_grams", "email", "email_index", "gender", "birthday", "source")


class CopyRow(NamedTuple):
    """A valid row, rendered: the keys the writer checks and the text it writes."""

    row_no: int
    phone_index: bytes
    email_index: bytes | None
    customer_no: str | None
    tags: list[str]
    fields: str
    grams: str
    update: str | None


def copy_row(row, *, defaults: dict, constants: str, updates: bool) -> CopyRow:
    """`row` is a validation.PreparedRow. `defaults` fills the gender, register_date and source
    a new customer's cells leave empty; `constants` is the rendered rest of NEW_CUSTOMER_COLUMNS
    (avatar .. created_at), the same for every new customer of an import."""
    fields = "\t".join(
        (
            copy_text(row.name),
            copy_text(row.phone),
            copy_bytes(row.phone_index),
            row.phone_last4,
            copy_text(row.email) if row.email else NULL,
            copy_bytes(row.email_index) if row.email_index else NULL,
            row.gender or defaults["gender"],
            copy_value(row.birthday),
            copy_value(row.register_date or defaults["register_date"]),
            row.source or defaults["source"],
            constants,
        )
    )
    grams = copy_array(row.name_grams)
    update = None
    if updates:
        update = "\t".join(map(copy_value, [getattr(row, column) for column in UPDATE_COLUMNS]))
    return CopyRow(
        row.row_no,
        row.phone_index,
        row.email_index,
        row.customer_no,
        row.tags,
        fields,
        grams,
        update,
    )


def copy_value(value) -> str:
    if value is None:
        return NULL
    if isinstance(value, bytes):
        return copy_bytes(value)
    if isinstance(value, list):
        return copy_array(value)
    if isinstance(value, date):
        return value.isoformat()
    return copy_text(str(value))


def copy_bytes(value: bytes) -> str:
    return "\\\\x" + value.hex()


def copy_array(items) -> str:
    if not items:
        return "{}"
    # Most items need no escaping, and this runs for every row's name grams.
    joined = "".join(items)
    if "\\" in joined or '"' in joined:
        items = [item.replace("\\", "\\\\").replace('"', '\\"') for item in items]
    return copy_text('{"' + '","'.join(items) + '"}')


def copy_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
