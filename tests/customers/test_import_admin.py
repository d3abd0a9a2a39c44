"""The admin import page: upload -> mapping and preview -> run -> result, and its permission."""

import io

import openpyxl
import pytest
from django.urls import reverse

from crm.models import AuditEvent
from customers.models import Customer, ImportRecord

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    """Error files and uploads go to the test's own directory."""
    settings.MEDIA_ROOT = tmp_path / "media"


CSV = (
    "客户,手机号,邮箱,错误原因 / error\n"
    "张三,13800138000,zs@example.com,\n"
    "李四,12345,,\n"
    "王五,13900139000,,\n"
).encode("utf-8-sig")


def upload(client, content=CSV, name="customers.csv"):
    file = io.BytesIO(content)
    file.name = name
    return client.post(reverse("admin:customers_customer_import"), {"file": file})


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_changelist_links_to_the_import_page(manager_client):
    response = manager_client.get(reverse("admin:customers_customer_changelist"))
    assert reverse("admin:customers_customer_import") in response.content.decode()


def test_upload_preview_run_result(manager_client, make_customer, settings):
    settings.LANGUAGE_CODE = "en"
    make_customer(name="旧", phone="13900139000")
    response = upload(manager_client)
    assert response.status_code == 302
    mapping_url = response["Location"]
    page = manager_client.get(mapping_url)
    form = page.context["form"]
    # 客户 is not a known header: the staff member maps it by hand.
    assert form["column_0"].initial == "" and form["column_1"].initial == "phone"
    data = {
        "column_0": "name",
        "column_1": "phone",
        "column_2": "email",
        "column_3": "",
        "on_duplicate": "update",
    }
    preview = manager_client.post(mapping_url, {**data, "preview": "1"})
    rows = preview.context["preview"]["rows"]
    assert [row["row_no"] for row in rows] == [2, 3, 4]
    assert rows[0]["errors"] == [] and "Phone" in rows[1]["errors"][0]
    assert "Already a customer" in rows[2]["note"]
    assert Customer.objects.count() == 1, "the preview writes nothing"
    done = manager_client.post(mapping_url, {**data, "run": "1"})
    record = ImportRecord.objects.get()
    assert done["Location"] == reverse("admin:customers_customer_import_result", args=[record.pk])
    assert (record.created_count, record.updated_count, record.failed_count) == (1, 1, 1)
    result = manager_client.get(done["Location"])
    errors_url = reverse("admin:customers_customer_import_errors", args=[record.pk])
    assert errors_url in result.content.decode()
    download = manager_client.get(errors_url)
    body = b"".join(download.streaming_content).decode("utf-8-sig")
    assert "12345" in body and body.splitlines()[0].endswith("错误原因 / error")
    assert AuditEvent.objects.filter(action="import", actor__username="manager").exists()
    assert manager_client.get(reverse("admin:customers_importrecord_changelist")).status_code == 200


def test_wrong_files_are_refused_on_upload(manager_client, settings):
    settings.LANGUAGE_CODE = "en"
    response = upload(manager_client, b"hello", "customers.txt")
    assert "CSV or XLSX" in response.content.decode()
    response = upload(manager_client, "邮箱\n".encode(), "customers.csv")
    assert "no data rows" in response.content.decode()
    mapping_url = upload(manager_client, "邮箱\na@b.cn\n".encode(), "customers.csv")["Location"]
    data = {"column_0": "email", "on_duplicate": "skip"}
    for button in ["preview", "run"]:
        response = manager_client.post(mapping_url, {**data, button: "1"})
        assert "Required columns are missing: name, phone" in response.content.decode()
    assert ImportRecord.objects.count() == 0


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_templates_are_accepted_as_they_are(manager_client, file_format, tmp_path):
    response = manager_client.get(
        reverse("admin:customers_customer_import_template", args=[file_format])
    )
    assert response.status_code == 200
    if file_format == "csv":
        content = response.content.decode("utf-8-sig") + "张三,13800138000\n"
        data = content.encode("utf-8")
    else:
        workbook = openpyxl.load_workbook(io.BytesIO(response.content))
        workbook.active.append(["张三", "13800138000"])
        buffer = io.BytesIO()
        workbook.save(buffer)
        data = buffer.getvalue()
    mapping_url = upload(manager_client, data, f"t.{file_format}")["Location"]
    form = manager_client.get(mapping_url).context["form"]
    assert [form[f"column_{i}"].initial for i in range(2)] == ["name", "phone"]


def test_import_needs_the_permission(client, make_user):
    user = make_user("service", roles=["customer_service"])
    client.force_login(user)
    assert client.get(reverse("admin:customers_customer_import")).status_code == 403
    assert upload(client).status_code == 403
    changelist = client.get(reverse("admin:customers_customer_changelist"))
    assert reverse("admin:customers_customer_import") not in changelist.content.decode()
