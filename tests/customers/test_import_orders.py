"""`manage.py import_orders`: orders recorded through record_order, bad orders in an error file."""

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from crm.models import AuditEvent
from customers.imports.orders import orders_import
from customers.models import Customer, ImportRecord, Order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    """Error files and uploads go to the test's own directory."""
    settings.MEDIA_ROOT = tmp_path / "media"


HEADERS = [
    "externalId", "source", "storeId", "channel", "phone", "name", "placedAt", "amount",
    "discount", "paymentMethod", "dish", "category", "tastes", "quantity", "price",
]  # fmt: skip


def write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADERS)
        writer.writerows(rows)
    return path


ROWS = [
    ["O-1", "pos", "BJ001", "dine_in", "13800138000", "张三", "2025-01-20 12:10:00", "100", "10",
     "wechat_pay", "宫保鸡丁", "川菜", "辣", "1", "48"],
    ["O-1", "pos", "BJ001", "dine_in", "13800138000", "张三", "2025-01-20 12:10:00", "100", "10",
     "wechat_pay", "米饭", "", "", "2", "2"],
    ["O-2", "pos", "BJ001", "takeaway", "13800138000", "张三", "2025-02-01T18:00:00+08:00", "50",
     "", "alipay", "麻婆豆腐", "川菜", "辣,麻", "1", "50"],
    ["O-3", "pos", "BJ001", "dine_in", "12345", "坏", "2025-02-01 18:00", "50", "", "", "鱼",
     "", "", "1", "50"],
    ["O-4", "pos", "BJ001", "dine_in", "13900139000", "李四", "2025-02-01 18:00", "-5", "", "",
     "鱼", "", "", "1", "50"],
]  # fmt: skip


def test_orders_are_recorded_with_totals_and_bad_orders_returned(tmp_path, make_user):
    user = make_user("importer", roles=["manager"])
    result = orders_import(actor=user, path=write(tmp_path / "o.csv", ROWS))
    assert (result.created, result.skipped, result.failed, result.total_rows) == (2, 0, 2, 5)
    customer = Customer.objects.get()
    assert customer.order_count == 2 and customer.total_spent == Decimal("140.00")
    assert customer.source == "dine_in"
    assert Order.objects.get(external_id="O-1").items.count() == 2
    assert sorted(result.errors) == [5, 6]
    assert "phone" in result.errors[5][0] and "amount" in result.errors[6][0]
    record = result.record
    assert record.kind == "orders" and record.failed_count == 2 and record.error_file
    assert AuditEvent.objects.filter(action="import", object_id=str(record.pk)).exists()
    again = orders_import(actor=user, path=write(tmp_path / "o2.csv", ROWS[:3]))
    assert (again.created, again.skipped) == (0, 2)
    customer.refresh_from_db()
    assert customer.order_count == 2, "a repeated order is not counted twice"


def test_command(tmp_path):
    out = io.StringIO()
    errors = tmp_path / "errors.csv"
    call_command(
        "import_orders", str(write(tmp_path / "o.csv", ROWS)), "--errors-out", str(errors),
        stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    assert "2 recorded" in out.getvalue() or "Import record" in out.getvalue()
    assert len(errors.read_text(encoding="utf-8-sig").splitlines()) == 3
    missing = tmp_path / "m.csv"
    missing.write_text("externalId,phone\nO-9,13800138000\n")
    with pytest.raises(CommandError, match="placed_at"):
        call_command("import_orders", str(missing))
    assert ImportRecord.objects.count() == 1
