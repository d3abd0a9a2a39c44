"""Historical orders from a CSV/XLSX file (`manage.py import_orders`): one row per item, the rows
of one order sharing its externalId. Each order goes through customers.services.record_order, so an
import keeps its rules: idempotency per (source, externalId), the customer found by phone or
created from the order, and the customer's totals updated in the same transaction.
"""

from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext

from crm.errors import BusinessError
from customers.imports.columns import (
    ORDER_ALIASES,
    ORDER_REQUIRED,
    accepted_headers,
    resolve_mapping,
)
from customers.imports.customers import ImportResult
from customers.imports.errorfile import build_error_file
from customers.imports.reader import TableFile
from customers.imports.records import finish_import_record
from customers.imports.validation import TAG_SEPARATORS
from customers.models import ImportRecord, JobStatus, OrderChannel, PaymentMethod
from customers.services.orders import record_order

DEFAULT_SOURCE = "import"


def orders_import(
    *,
    actor,
    path,
    file_name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Record every order of the file; returns counts of orders (created = recorded now, skipped
    = recorded before) and of failed orders, whose rows come back in the error file.

    Raises ImportFileError before writing anything for a wrong, empty or incomplete file.
    """
    table = TableFile(path, file_name)
    mapping = resolve_mapping(table.headers, ORDER_ALIASES, None)
    table.require(mapping, ORDER_REQUIRED, accepted_headers(ORDER_ALIASES, ORDER_REQUIRED))
    table.require_rows()
    columns = {field: table.headers.index(header) for header, field in mapping.items()}
    record = ImportRecord.objects.create(
        kind=ImportRecord.Kind.ORDERS,
        file_name=table.name,
        actor=actor,
        options={"mapping": mapping},
        status=JobStatus.RUNNING,
    )
    result = ImportResult(record=record)
    orders: dict[tuple[str, str], list] = {}
    for row_no, cells in table.rows():
        row = {field: cells[index].strip() for field, index in columns.items()}
        key = (row.get("source") or DEFAULT_SOURCE, row.get("external_id", ""))
        orders.setdefault(key, []).append((row_no, row))
        result.total_rows += 1
    done = 0
    for (source, external_id), rows in orders.items():
        try:
            recorded = record_order(actor=actor, **_order_arguments(source, external_id, rows))
        except (ValidationError, BusinessError) as error:
            reasons = _reasons(error)
            for row_no, _row in rows:
                result.errors[row_no] = reasons
            result.failed += 1
        else:
            if recorded.created:
                result.created += 1
            else:
                result.skipped += 1
        done += len(rows)
        if progress:
            progress(done, result.total_rows)
    result.message = gettext(
        "%(rows)s rows, %(orders)s orders: %(created)s recorded, %(skipped)s already recorded, "
        "%(failed)s failed."
    ) % {
        "rows": result.total_rows,
        "orders": len(orders),
        "created": result.created,
        "skipped": result.skipped,
        "failed": result.failed,
    }
    if result.errors:
        result.error_file = build_error_file(table, result.errors)
    with transaction.atomic():
        finish_import_record(
            record=record, result=result, actor=actor, extra={"orders": len(orders)}
        )
    return result


def _order_arguments(source, external_id, rows) -> dict:
    first = rows[0][1]
    errors: dict[str, list[str]] = {}
    if not external_id:
        errors["externalId"] = [gettext("externalId is required.")]
    placed_at = _datetime(first.get("placed_at", ""), errors)
    channel = first.get("channel") or OrderChannel.OTHER
    if channel not in OrderChannel.values:
        errors["channel"] = [
            gettext("Use one of: %(choices)s.") % {"choices": ", ".join(OrderChannel.values)}
        ]
    payment_method = first.get("payment_method") or PaymentMethod.OTHER
    if payment_method not in PaymentMethod.values:
        errors["paymentMethod"] = [
            gettext("Use one of: %(choices)s.") % {"choices": ", ".join(PaymentMethod.values)}
        ]
    items = []
    for _row_no, row in rows:
        items.append(
            {
                "dish": row.get("dish", ""),
                "category": row.get("category", ""),
                "tastes": [
                    t.strip() for t in TAG_SEPARATORS.split(row.get("tastes", "")) if t.strip()
                ],
                "quantity": _number(row.get("quantity") or "1", "quantity", errors, int),
                "price": _number(row.get("price", ""), "price", errors),
            }
        )
    arguments = {
        "source": source,
        "external_id": external_id,
        "store_id": first.get("store_id", ""),
        "channel": channel,
        "placed_at": placed_at,
        "amount": _number(first.get("amount", ""), "amount", errors),
        "discount": _number(first.get("discount") or "0", "discount", errors),
        "payment_method": payment_method,
        "items": items,
        "customer_data": {"phone": first.get("phone", ""), "name": first.get("name", "")},
    }
    if errors:
        raise ValidationError(errors)
    return arguments


def _datetime(text, errors):
    value = parse_datetime(text.replace("/", "-")) if text else None
    if value is None:
        errors["placedAt"] = [
            gettext("%(value)s is not a time such as 2025-01-20 12:10:00.") % {"value": text}
        ]
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _number(text, field, errors, kind=Decimal):
    try:
        return kind(text)
    except (InvalidOperation, ValueError):
        errors.setdefault(field, []).append(
            gettext("%(value)s is not a number.") % {"value": text or '""'}
        )
        return kind(0)


def _reasons(error) -> list[str]:
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        return [f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items()]
    if isinstance(error, BusinessError):
        return [str(error.message)]
    return list(error.messages)
