"""List pagination of spec §4: `page` + `limit` with a total, or a keyset `cursor`.

OFFSET pages cost about 0.13 ms per 1,000 skipped rows; the cursor costs the same at any depth
(reference/postgres-limits.md), so exports and deep walks use it. A cursor encodes the values of
the queryset's ordering, which must be `(<field>, id)` in one direction over non-null fields.

The total is exact up to EXACT_TOTAL_LIMIT rows. Past that it is PostgreSQL's estimate and
`totalExact` says so (DESIGN.md, scale): an exact count visits every match, 40 ms for the million
live customers and 170-260 ms for the 88,000 names holding a common surname at 1M customers
(docs/performance.md), where a page costs under 1 ms.
"""

import base64
import binascii
import json
import math

from django.core.exceptions import FieldDoesNotExist
from django.db import connections
from django.db.models import Q
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

# Counting this many rows stays cheap: about 2 ms through an index alone, 20 ms where each match
# is a heap visit (10,000 customers of one surname at 1M customers, warm).
EXACT_TOTAL_LIMIT = 10_000


class PagePagination(BasePagination):
    default_limit = 20
    max_limit = 100
    max_page = 1_000_000

    def paginate_queryset(self, queryset, request, view=None):
        params = request.query_params
        self.limit = _positive_int(params, "limit", self.default_limit, maximum=self.max_limit)
        self.cursor = params.get("cursor")
        self.ordering = _keyset_ordering(queryset)
        if self.cursor:
            self.page = None
            rows = list(_after_cursor(queryset, self.ordering, self.cursor)[: self.limit + 1])
        else:
            self.page = _positive_int(params, "page", 1, maximum=self.max_page)
            offset = (self.page - 1) * self.limit
            rows = list(queryset[offset : offset + self.limit + 1])
        has_more = len(rows) > self.limit
        if self.page is not None and not has_more and (rows or offset == 0):
            # The last page: its rows are the rest, so the total needs no count (a phone or
            # e-mail search, a rare name: one query fewer).
            self.total, self.total_exact = offset + len(rows), True
        else:
            self.total, self.total_exact = count_or_estimate(queryset)
        rows = rows[: self.limit]
        self.next_cursor = _encode_cursor(self.ordering, rows[-1]) if has_more and rows else None
        return rows

    def get_paginated_response(self, data):
        return Response({"items": data, "pagination": self.pagination_data()})

    def pagination_data(self) -> dict:
        return {
            "page": self.page,
            "limit": self.limit,
            "total": self.total,
            "totalExact": self.total_exact,
            "totalPages": math.ceil(self.total / self.limit) if self.total else 0,
            "nextCursor": self.next_cursor,
        }

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["items", "pagination"],
            "properties": {
                "items": schema,
                "pagination": {
                    "type": "object",
                    "properties": {
                        "page": {"type": "integer", "nullable": True},
                        "limit": {"type": "integer"},
                        "total": {"type": "integer"},
                        "totalExact": {
                            "type": "boolean",
                            "description": (
                                f"False when more than {EXACT_TOTAL_LIMIT:,} rows match: total "
                                "is then PostgreSQL's estimate."
                            ),
                        },
                        "totalPages": {"type": "integer"},
                        "nextCursor": {"type": "string", "nullable": True},
                    },
                },
            },
        }

    def get_schema_operation_parameters(self, view):
        def param(name, schema, description):
            return {
                "name": name,
                "required": False,
                "in": "query",
                "description": description,
                "schema": schema,
            }

        return [
            param(
                "page",
                {"type": "integer", "minimum": 1, "maximum": self.max_page, "default": 1},
                "Page number, from 1.",
            ),
            param(
                "limit",
                {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_limit,
                    "default": self.default_limit,
                },
                f"Items per page, 1 to {self.max_limit}.",
            ),
            param(
                "cursor",
                {"type": "string"},
                "Keyset cursor from pagination.nextCursor; replaces page.",
            ),
        ]


def count_or_estimate(queryset) -> tuple[int, bool]:
    """The number of rows of `queryset` and whether it is exact: exact when at most
    EXACT_TOTAL_LIMIT rows match, else the planner's estimate, never below the rows counted, so
    an estimate is only ever given where more than EXACT_TOTAL_LIMIT rows are known to match."""
    unordered = queryset.order_by()
    counted = unordered[: EXACT_TOTAL_LIMIT + 1].count()
    if counted <= EXACT_TOTAL_LIMIT:
        return counted, True
    return max(planner_estimate(unordered), counted), False


def planner_estimate(queryset) -> int:
    """PostgreSQL's estimate of the rows `queryset` returns (EXPLAIN, nothing executed)."""
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    return int(plan[0]["Plan"]["Plan Rows"])


def _positive_int(params, name, default, *, maximum):
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= maximum:
        message = _("Must be a whole number from 1 to %(maximum)s.") % {"maximum": maximum}
        raise ValidationError({name: [message]})
    return value


def _keyset_ordering(queryset):
    order_by = list(queryset.query.order_by) or list(queryset.model._meta.ordering)
    if not all(isinstance(name, str) for name in order_by):
        return None
    fields = [name.lstrip("-") for name in order_by]
    descending = {name.startswith("-") for name in order_by}
    if len(fields) != 2 or fields[1] != "id" or len(descending) != 1:
        return None
    try:
        field = queryset.model._meta.get_field(fields[0])
    except FieldDoesNotExist:
        return None
    if field.null:
        return None
    return field, descending.pop()


def _encode_cursor(ordering, row) -> str | None:
    if ordering is None:
        return None
    field, descending = ordering
    value = field.value_to_string(row)
    name = f"-{field.name}" if descending else field.name
    raw = json.dumps([name, value, row.pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after_cursor(queryset, ordering, cursor):
    if ordering is None:
        raise ValidationError({"cursor": [_("A cursor cannot be used with this ordering.")]})
    field, descending = ordering
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, value, pk = json.loads(raw)
        if name != (f"-{field.name}" if descending else field.name):
            raise ValueError
        value = field.to_python(value)
        pk = int(pk)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise ValidationError(
            {"cursor": [_("The cursor is invalid; use pagination.nextCursor as returned.")]}
        ) from None
    # `field <= value` is the index condition that makes the walk start at the cursor; the rest
    # breaks ties by id. (An OR of the two would make PostgreSQL scan from the start.)
    if descending:
        return queryset.filter(
            Q(**{f"{field.name}__lte": value}) & (Q(**{f"{field.name}__lt": value}) | Q(pk__lt=pk))
        )
    return queryset.filter(
        Q(**{f"{field.name}__gte": value}) & (Q(**{f"{field.name}__gt": value}) | Q(pk__gt=pk))
    )
