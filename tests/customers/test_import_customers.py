"""Customer import (spec 2.8.2): mapping, validation, duplicates, error file, command, audit."""

import csv
import io

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from crm.encryption import blind_index
from crm.models import AuditEvent
from customers.imports import customer_checks
from customers.imports.columns import CUSTOMER_ALIASES, ERROR_COLUMN, auto_mapping
from customers.imports.customers import customers_import
from customers.imports.reader import ImportFileError
from customers.models import Customer, ImportRecord, JobStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    """Error files and uploads go to the test's own directory."""
    settings.MEDIA_ROOT = tmp_path / "media"


HEADERS = ["姓名", "手机号", "邮箱", "性别", "生日", "标签", "来源", "注册日期"]


def write_csv(path, rows, headers=HEADERS, encoding="utf-8-sig"):
    with open(path, "w", newline="", encoding=encoding) as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def write_xlsx(path, rows, headers=HEADERS):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def read_csv(data: bytes):
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def by_phone(phone):
    return Customer.objects.filter(phone_index=blind_index(phone, purpose="phone")).first()


def test_chinese_and_english_headers_map():
    assert auto_mapping([*HEADERS, "客户编号"], CUSTOMER_ALIASES) == {
        "姓名": "name",
        "手机号": "phone",
        "邮箱": "email",
        "性别": "gender",
        "生日": "birthday",
        "标签": "tags",
        "来源": "source",
        "注册日期": "register_date",
        "客户编号": "customer_no",
    }
    assert auto_mapping(
        ["Name", "Phone", "E-mail", "registerDate", "姓名 / name"], CUSTOMER_ALIASES
    ) == {
        "Name": "name",
        "Phone": "phone",
        "E-mail": "email",
        "registerDate": "register_date",
    }


def test_import_creates_customers_with_search_columns_history_and_audit(tmp_path, make_user):
    user = make_user("importer", roles=["manager"])
    path = write_csv(
        tmp_path / "c.csv",
        [
            [
                "张三",
                "13800138000",
                "ZS@Example.com",
                "男",
                "1990-05-20",
                "VIP，川菜",
                "堂食",
                "2024/03/01",
            ],
            ["李四", "13900139000", "", "女", "", "", "", ""],
        ],
    )
    result = customers_import(actor=user, path=path)
    assert (result.created, result.failed, result.total_rows) == (2, 0, 2)
    customer = by_phone("+8613800138000")
    assert customer.name == "张三" and customer.email == "zs@example.com"
    assert customer.gender == "male" and str(customer.birthday) == "1990-05-20"
    assert customer.source == "dine_in" and str(customer.register_date) == "2024-03-01"
    assert sorted(customer.tags.values_list("name", flat=True)) == ["VIP", "川菜"]
    expected = Customer(name="张三", phone="+8613800138000", email="zs@example.com")
    expected.refresh_search_columns()
    assert bytes(customer.phone_index) == expected.phone_index
    assert bytes(customer.email_index) == expected.email_index
    assert customer.name_grams == expected.name_grams and customer.phone_last4 == "8000"
    assert by_phone("+8613900139000").source == "import"
    numbers = list(Customer.objects.values_list("customer_no", flat=True))
    assert len(set(numbers)) == 2 and all(n.startswith("C") for n in numbers)
    history = customer.history.get()
    assert history.history_type == "+" and history.history_user == user
    assert (history.customer_no, history.phone, history.email, history.gender) == (
        customer.customer_no,
        customer.phone,
        customer.email,
        customer.gender,
    )
    assert history.created_at == customer.created_at == history.history_date
    # The reason is written in the default language (zh-hans) when no request sets another.
    assert history.history_change_reason == "从 c.csv 导入"
    assert [t.tag.name for t in history.tags.all()] != []
    record = result.record
    assert record.status == JobStatus.DONE and record.created_count == 2 and not record.error_file
    event = AuditEvent.objects.get(action="import")
    assert event.summary["created"] == 2 and event.actor == user
    assert "13800138000" not in str(event.summary)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (["", "13800138000", "", "", "", "", "", ""], "Name"),
        (["张三", "12345", "", "", "", "", "", ""], "Phone"),
        (["张三", "", "", "", "", "", "", ""], "Phone"),
        (["张三", "13800138000", "bad-mail", "", "", "", "", ""], "E-mail"),
        (["张三", "13800138000", "", "X", "", "", "", ""], "Gender"),
        (["张三", "13800138000", "", "", "1990-13-45", "", "", ""], "Birthday"),
        (["张三", "13800138000", "", "", "2999-01-01", "", "", ""], "Birthday"),
        (["张三", "13800138000", "", "", "", "", "", "yesterday"], "Registration date"),
        (["张三", "13800138000", "", "", "", "", "martian", ""], "source"),
        (["张三", "13800138000", "", "", "", "x" * 51, "", ""], "tag"),
        (["张" * 65, "13800138000", "", "", "", "", "", ""], "Name"),
    ],
)
def test_every_rule_rejects_a_bad_row_with_a_reason(tmp_path, row, reason, settings):
    settings.LANGUAGE_CODE = "en"
    path = write_csv(tmp_path / "c.csv", [row, ["好人", "13900139000", "", "", "", "", "", ""]])
    result = customers_import(actor=None, path=path)
    assert (result.created, result.failed) == (1, 1)
    assert reason in " ".join(result.errors[2])
    assert Customer.objects.count() == 1


def test_customer_number_column(tmp_path):
    headers = ["姓名", "手机号", "客户编号"]
    path = write_csv(
        tmp_path / "c.csv",
        [
            ["A", "13800138000", "VIP-1"],
            ["B", "13900139000", "C00001"],
            ["C", "13700137000", "VIP-1"],
        ],
        headers,
    )
    result = customers_import(actor=None, path=path)
    assert result.created == 1 and set(result.errors) == {3, 4}
    assert by_phone("+8613800138000").customer_no == "VIP-1"


def test_duplicates_inside_the_file_fail_the_later_row(tmp_path, settings):
    settings.LANGUAGE_CODE = "en"
    path = write_csv(
        tmp_path / "c.csv",
        [
            ["A", "13800138000", "a@example.com", "", "", "", "", ""],
            ["B", "138 0013 8000", "", "", "", "", "", ""],
            ["C", "13900139000", "A@example.com", "", "", "", "", ""],
        ],
    )
    result = customers_import(actor=None, path=path)
    assert result.created == 1
    assert result.errors[3] == ["The same phone number is in row 2."]
    assert result.errors[4] == ["The same e-mail is in row 2."]


@pytest.fixture
def existing(make_customer):
    return make_customer(
        name="老客户", phone="13800138000", email="old@example.com", gender="female"
    )


def test_duplicates_against_the_database_skip(tmp_path, existing):
    path = write_csv(
        tmp_path / "c.csv",
        [
            ["新名字", "13800138000", "", "", "", "", "", ""],
            ["B", "13900139000", "", "", "", "", "", ""],
        ],
    )
    result = customers_import(actor=None, path=path, on_duplicate="skip")
    assert (result.created, result.skipped, result.updated, result.failed) == (1, 1, 0, 0)
    existing.refresh_from_db()
    assert existing.name == "老客户"


def test_duplicates_against_the_database_update(tmp_path, existing, make_user):
    user = make_user("importer", roles=["manager"])
    path = write_csv(
        tmp_path / "c.csv",
        [["新名字", "13800138000", "", "男", "1980-01-02", "VIP", "微信", ""]],
    )
    result = customers_import(actor=user, path=path, on_duplicate="update")
    assert (result.created, result.updated) == (0, 1)
    existing.refresh_from_db()
    assert existing.name == "新名字" and existing.gender == "male"
    assert existing.email == "old@example.com", "an empty cell leaves the value"
    assert str(existing.birthday) == "1980-01-02" and existing.source == "wechat"
    assert list(existing.tags.values_list("name", flat=True)) == ["VIP"]
    assert "名字" in existing.name_grams
    latest = existing.history.first()
    assert latest.history_type == "~" and latest.history_user == user


def test_duplicates_against_the_database_fail_writes_nothing(tmp_path, existing):
    path = write_csv(
        tmp_path / "c.csv",
        [
            ["B", "13900139000", "", "", "", "", "", ""],
            ["X", "13800138000", "", "", "", "", "", ""],
        ],
    )
    result = customers_import(actor=None, path=path, on_duplicate="fail")
    assert result.stopped and result.created == 0 and list(result.errors) == [3]
    assert Customer.objects.count() == 1
    assert result.record.status == JobStatus.FAILED and result.record.failed_count == 1


def test_email_of_another_customer_fails(tmp_path, existing):
    path = write_csv(
        tmp_path / "c.csv", [["B", "13900139000", "OLD@example.com", "", "", "", "", ""]]
    )
    result = customers_import(actor=None, path=path)
    assert result.created == 0 and 2 in result.errors


def test_all_or_nothing(tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        [["A", "13800138000", "", "", "", "", "", ""], ["B", "bad", "", "", "", "", "", ""]],
    )
    result = customers_import(actor=None, path=path, all_or_nothing=True)
    assert result.stopped and result.created == 0 and Customer.objects.count() == 0
    assert result.record.failed_count == 1 and result.record.error_file


def test_dry_run_writes_nothing(tmp_path):
    path = write_csv(tmp_path / "c.csv", [["A", "13800138000", "", "", "", "", "", ""]])
    result = customers_import(actor=None, path=path, dry_run=True)
    assert result.created == 1 and result.record is None
    assert Customer.objects.count() == 0 and ImportRecord.objects.count() == 0


@pytest.mark.parametrize("writer", [write_csv, write_xlsx])
def test_error_file_round_trip(tmp_path, writer):
    suffix = "csv" if writer is write_csv else "xlsx"
    path = writer(
        tmp_path / f"c.{suffix}",
        [
            ["A", "13800138000", "", "", "", "", "", ""],
            ["B", "12345", "", "", "", "", "", ""],
            ["C", "13700137000", "", "", "1990-99-99", "", "", ""],
        ],
    )
    result = customers_import(actor=None, path=path)
    assert (result.created, result.failed) == (1, 2)
    record = result.record
    assert record.error_file.name.endswith(suffix)
    fixed = tmp_path / f"fixed.{suffix}"
    if suffix == "csv":
        rows = read_csv(record.error_file.read())
        assert rows[0] == [*HEADERS, ERROR_COLUMN] and len(rows) == 3
        rows[1][1] = "13900139000"
        rows[2][4] = "1990-09-09"
        write_csv(fixed, rows[1:], rows[0])
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(record.error_file.read())).active
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert rows[0] == [*HEADERS, ERROR_COLUMN] and len(rows) == 3
        rows[1][1] = "13900139000"
        rows[2][4] = "1990-09-09"
        write_xlsx(fixed, rows[1:], rows[0])
    again = customers_import(actor=None, path=fixed)
    assert (again.created, again.failed) == (2, 0)
    assert Customer.objects.count() == 3


def test_xlsx_numbers_and_dates(tmp_path):
    import datetime

    path = write_xlsx(
        tmp_path / "c.xlsx",
        [["张三", 13800138000, None, "女", datetime.datetime(1990, 5, 20), None, None, None]],
    )
    result = customers_import(actor=None, path=path)
    assert result.created == 1
    assert str(by_phone("+8613800138000").birthday) == "1990-05-20"


def test_gbk_csv(tmp_path):
    path = write_csv(
        tmp_path / "c.csv", [["张三", "13800138000", "", "男", "", "", "", ""]], encoding="gbk"
    )
    assert customers_import(actor=None, path=path).created == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("c.txt", b"name,phone\n", "CSV or XLSX"),
        ("c.csv", b"", "empty"),
        ("c.csv", "姓名,手机号\n".encode(), "no data rows"),
        ("c.csv", "姓名,邮箱\n张三,a@b.cn\n".encode(), "phone"),
        ("c.xlsx", b"not a zip", "Excel"),
    ],
)
def test_bad_files_are_refused_before_anything_is_written(
    tmp_path, name, content, message, settings
):
    settings.LANGUAGE_CODE = "en"
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFileError) as error:
        customers_import(actor=None, path=path)
    assert message in str(error.value)
    assert ImportRecord.objects.count() == 0 and Customer.objects.count() == 0


def test_missing_columns_name_the_accepted_headers(tmp_path, settings):
    settings.LANGUAGE_CODE = "en"
    path = write_csv(tmp_path / "c.csv", [["a@b.cn"]], ["邮箱"])
    with pytest.raises(ImportFileError) as error:
        customers_import(actor=None, path=path)
    assert "name, phone" in str(error.value) and "手机号" in str(error.value)


def test_explicit_mapping(tmp_path):
    path = write_csv(tmp_path / "c.csv", [["张三", "13800138000"]], ["客户", "联系方式"])
    result = customers_import(actor=None, path=path, mapping={"客户": "name", "联系方式": "phone"})
    assert result.created == 1


def test_worker_processes_give_the_same_result(tmp_path):
    rows = [[f"客户{i}", f"1380013{i:04d}", "", "", "", "", "", ""] for i in range(30)]
    rows.append(["坏", "1", "", "", "", "", "", ""])
    path = write_csv(tmp_path / "c.csv", rows)
    result = customers_import(actor=None, path=path, workers=2, batch_size=7)
    assert (result.created, result.failed) == (30, 1)
    numbers = list(Customer.objects.values_list("customer_no", flat=True))
    assert len(set(numbers)) == 30


@pytest.mark.parametrize("workers", [1, 2])
def test_a_stop_in_a_later_batch_rolls_back_the_batches_already_written(
    tmp_path, existing, workers
):
    rows = [[f"客户{i}", f"1370013{i:04d}", "", "", "", "VIP", "", ""] for i in range(5)]
    rows.append(["X", "13800138000", "", "", "", "", "", ""])
    path = write_csv(tmp_path / "c.csv", rows)
    result = customers_import(
        actor=None, path=path, on_duplicate="fail", batch_size=2, workers=workers
    )
    assert result.stopped and result.created == 0 and list(result.errors) == [7]
    assert result.skipped == 5
    assert Customer.objects.count() == 1 and Customer.history.count() == 1
    assert not Customer.tags.through.objects.exists()


def test_all_or_nothing_stops_on_a_bad_row_in_a_later_batch(tmp_path):
    rows = [[f"客户{i}", f"1370013{i:04d}", "", "", "", "", "", ""] for i in range(5)]
    rows.append(["坏", "1", "", "", "", "", "", ""])
    path = write_csv(tmp_path / "c.csv", rows)
    result = customers_import(actor=None, path=path, all_or_nothing=True, batch_size=2)
    assert result.stopped and Customer.objects.count() == 0 and list(result.errors) == [7]


def test_updates_in_several_batches(tmp_path, make_customer, make_user):
    user = make_user("importer", roles=["manager"])
    first = make_customer(name="甲", phone="13800138000")
    second = make_customer(name="乙", phone="13900139000")
    path = write_csv(
        tmp_path / "c.csv",
        [
            ["甲二", "13800138000", "", "", "", "VIP", "", ""],
            ["新", "13700137000", "", "", "", "VIP", "", ""],
            ["乙二", "13900139000", "", "", "", "常客", "", ""],
        ],
    )
    result = customers_import(actor=user, path=path, on_duplicate="update", batch_size=1)
    assert (result.created, result.updated) == (1, 2)
    for customer, name, tag in ((first, "甲二", "VIP"), (second, "乙二", "常客")):
        customer.refresh_from_db()
        assert customer.name == name
        latest = customer.history.first()
        assert latest.history_type == "~" and [t.tag.name for t in latest.tags.all()] == [tag]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_customer_created_during_the_import_is_found_when_it_runs_again(
    tmp_path, existing, monkeypatch, workers
):
    """Another writer creates a customer with a phone of the file after the import looked the
    phone up: the COPY fails on the unique index, and the import runs again and skips it."""
    existing_phone = bytes(existing.phone_index)
    missed = []
    owners = customer_checks.owners

    def existing_phone_missed_once(column, keys):
        if existing_phone in keys and not missed:
            missed.append(column)
            return {}
        return owners(column, keys)

    monkeypatch.setattr(customer_checks, "owners", existing_phone_missed_once)
    path = write_csv(
        tmp_path / "c.csv",
        [
            ["B", "13900139000", "", "", "", "", "", ""],
            ["X", "13800138000", "", "", "", "", "", ""],
            ["C", "13700137000", "", "", "", "", "", ""],
        ],
    )
    result = customers_import(actor=None, path=path, workers=workers, batch_size=1)
    assert missed == ["phone_index"]
    assert (result.created, result.skipped, result.failed) == (2, 1, 0)
    assert result.record.status == JobStatus.DONE and Customer.objects.count() == 3


def test_error_file_keeps_the_file_order_across_batches_and_kinds_of_error(tmp_path, existing):
    rows = [
        ["A", "13700137000", "", "", "", "", "", ""],
        ["B", "13800138000", "", "", "", "", "", ""],
        ["C", "bad", "", "", "", "", "", ""],
        ["D", "13700137000", "", "", "", "", "", ""],
        ["E", "13600136000", "old@example.com", "", "", "", "", ""],
    ]
    path = write_csv(tmp_path / "c.csv", rows)
    result = customers_import(actor=None, path=path, on_duplicate="fail", batch_size=2)
    assert [row[0] for row in read_csv(result.error_file)[1:]] == ["B", "C", "D", "E"]


def test_command_output_and_exit_code(tmp_path, capsys):
    good = write_csv(
        tmp_path / "c.csv",
        [["A", "13800138000", "", "", "", "", "", ""], ["B", "x", "", "", "", "", "", ""]],
    )
    errors = tmp_path / "errors.csv"
    out = io.StringIO()
    call_command(
        "import_customers",
        str(good),
        "--errors-out",
        str(errors),
        "--workers",
        "1",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert "1 created" in out.getvalue() or "1" in out.getvalue()
    assert len(read_csv(errors.read_bytes())) == 2
    with pytest.raises(CommandError):
        call_command("import_customers", str(tmp_path / "missing.csv"))
    bad = tmp_path / "c.txt"
    bad.write_text("x")
    with pytest.raises(CommandError, match="CSV"):
        call_command("import_customers", str(bad))
    with pytest.raises(CommandError):
        call_command(
            "import_customers",
            str(good),
            "--on-duplicate",
            "fail",
            "--workers",
            "1",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert Customer.objects.count() == 1


def test_command_mapping_option(tmp_path):
    path = write_csv(tmp_path / "c.csv", [["张三", "13800138000"]], ["客户", "联系方式"])
    out = io.StringIO()
    call_command(
        "import_customers",
        str(path),
        "--mapping",
        "客户=name,联系方式=phone",
        "--dry-run",
        "--no-progress",
        stdout=out,
    )
    assert "[dry run]" in out.getvalue() and Customer.objects.count() == 0
