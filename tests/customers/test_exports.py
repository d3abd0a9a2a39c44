"""Customer export (spec 2.8.1) and the PDF of one customer (spec 2.1.4): formats, masking,
permissions, filters, the sync/async threshold, progress, history and audit."""

import csv
import io
import json
import re
from decimal import Decimal

import pytest
from django.test import override_settings
from openpyxl import load_workbook

from crm.models import AuditEvent
from customers.exports import service, writers
from customers.models import Customer, ExportRecord, JobStatus
from customers.services.orders import record_order
from tests.celery_worker import celery_worker

pytestmark = pytest.mark.django_db

EXPORT_URL = "/api/v1/customers/export"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def finance(make_user):
    return make_user("finance", roles=["finance"])


def export(client, **body):
    body.setdefault("format", "csv")
    body.setdefault("fields", ["customerNo", "name", "phone", "email", "level", "tags"])
    return client.post(EXPORT_URL, body, format="json")


def download(client, response) -> bytes:
    url = response.json()["data"]["downloadUrl"]
    got = client.get(url)
    assert got.status_code == 200, got.content
    return b"".join(got.streaming_content)


def set_columns(customer, **values):
    Customer.objects.filter(pk=customer.pk).update(**values)


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf"), "a BOM, so Excel reads UTF-8"
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def pdf_text(content: bytes) -> str:
    """The text of an uncompressed reportlab PDF: the CJK font's strings are UTF-16BE."""
    texts = []
    for raw in re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", content, flags=re.S):
        data = re.sub(
            rb"\\([0-7]{1,3}|.)",
            lambda m: (
                bytes([int(m.group(1), 8)])
                if m.group(1)[:1].isdigit()
                else {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(m.group(1), m.group(1))
            ),
            raw,
            flags=re.S,
        )
        try:
            texts.append(data.decode("utf-16-be") if len(data) % 2 == 0 else data.decode())
        except UnicodeDecodeError:
            texts.append(data.decode("latin-1"))
    return "\n".join(texts)


# --- formats ---------------------------------------------------------------------------------


def test_csv_reads_back_with_chinese_and_masked_phone_and_email(api_client, manager, make_customer):
    customer = make_customer(name="张三", phone="13800000101", email="zhangsan@example.com")

    response = export(api_client(manager))

    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert data["status"] == "done" and data["rowCount"] == 1 and data["progress"] == 100
    rows = csv_rows(download(api_client(manager), response))
    assert rows[0] == ["customer number", "name", "phone", "e-mail", "level", "tags"]
    assert rows[1][:4] == [customer.customer_no, "张三", "138****0101", "z***n@example.com"]


def test_xlsx_reads_back_with_openpyxl(api_client, manager, make_customer):
    make_customer(name="李四", phone="13800000102")

    response = export(
        api_client(manager), format="xlsx", fields=["name", "phone", "totalSpent", "registerDate"]
    )

    assert response.status_code == 201, response.content
    sheet = load_workbook(io.BytesIO(download(api_client(manager), response))).active
    rows = list(sheet.values)
    assert rows[0] == ("name", "phone", "total spent", "registration date")
    assert rows[1][:3] == ("李四", "138****0102", 0)


def test_pdf_holds_the_rows_in_chinese(api_client, manager, make_customer, monkeypatch):
    monkeypatch.setattr(writers, "PDF_COMPRESSION", 0)
    make_customer(name="王芳", phone="13800000103")
    make_customer(name="赵六", phone="13800000104")

    response = export(api_client(manager), format="pdf")

    assert response.status_code == 201, response.content
    content = download(api_client(manager), response)
    assert content.startswith(b"%PDF")
    text = pdf_text(content)
    assert "王芳" in text and "赵六" in text and "138****0103" in text
    assert "13800000103" not in text


def test_pdf_is_refused_past_its_row_limit(api_client, manager, make_customer, monkeypatch):
    monkeypatch.setattr(service, "PDF_MAX_ROWS", 1)
    make_customer()
    make_customer()

    response = export(api_client(manager), format="pdf")

    assert response.status_code == 400
    assert "format" in response.json()["error"]["fields"]


# --- masking ---------------------------------------------------------------------------------


def test_unmasked_export_needs_the_reveal_permission(api_client, finance, make_customer):
    make_customer()

    response = export(api_client(finance), unmasked=True, reason="audit")

    assert response.status_code == 403
    assert not ExportRecord.objects.exists()


def test_unmasked_export_needs_a_reason(api_client, manager, make_customer):
    make_customer()

    response = export(api_client(manager), unmasked=True, reason=" ")

    assert response.status_code == 400
    assert "reason" in response.json()["error"]["fields"]


def test_unmasked_export_is_recorded_and_audited(api_client, manager, make_customer):
    make_customer(name="张三", phone="13800000105", email="zs@example.com")

    response = export(api_client(manager), unmasked=True, reason="会员核对")

    assert response.status_code == 201, response.content
    rows = csv_rows(download(api_client(manager), response))
    assert rows[1][2:4] == ["13800000105", "zs@example.com"]
    record = ExportRecord.objects.get()
    assert record.masked is False and record.reason == "会员核对"
    event = AuditEvent.objects.get(action="export")
    assert event.actor == manager and event.object_id == str(record.pk)
    assert event.summary["masked"] is False and event.summary["rows"] == 1
    assert event.summary["fields"] == record.fields and event.summary["format"] == "csv"
    assert "13800000105" not in json.dumps(event.summary)


def test_the_audit_hides_a_search_term(api_client, manager, make_customer):
    make_customer(phone="13800000106")

    export(api_client(manager), filters={"search": "13800000106"})

    summary = AuditEvent.objects.get(action="export").summary
    assert summary["filters"] == {"search": "***"}
    assert "13800000106" not in json.dumps(summary)


# --- fields and filters ----------------------------------------------------------------------


def test_filters_select_the_same_customers_as_the_list(api_client, manager, make_customer):
    for index in range(3):
        set_columns(make_customer(name=f"甲{index}"), level="vip")
    make_customer(name="乙")
    set_columns(make_customer(name="丙"), level="vip", status="archived")
    client = api_client(manager)

    listed = client.get("/api/v1/customers", {"level": "vip,svip", "limit": 100}).json()["data"]
    response = export(client, fields=["customerNo"], filters={"level": ["vip", "svip"]})

    exported = [row[0] for row in csv_rows(download(client, response))[1:]]
    assert sorted(exported) == sorted(item["customerNo"] for item in listed["items"])
    assert len(exported) == 3


def test_an_empty_filter_exports_every_live_customer(api_client, manager, make_customer):
    make_customer()
    make_customer()
    set_columns(make_customer(), status="archived")

    response = export(api_client(manager), filters={})

    assert response.json()["data"]["rowCount"] == 2


def test_fields_are_written_in_the_order_chosen(api_client, manager, make_customer):
    make_customer(name="张三", gender="male")

    response = export(api_client(manager), fields=["gender", "name"])

    assert csv_rows(download(api_client(manager), response)) == [
        ["gender", "name"],
        ["Male", "张三"],
    ]


def test_unknown_fields_are_refused_naming_the_valid_ones(api_client, manager):
    response = export(api_client(manager), fields=["name", "salary"])

    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "salary" in message and "customerNo" in message and "phone" in message


@pytest.mark.parametrize(
    "filters", [{"colour": "red"}, {"level": "emperor"}, {"startDate": "yesterday"}]
)
def test_unknown_filters_and_bad_values_are_refused(api_client, manager, filters):
    response = export(api_client(manager), filters=filters)

    assert response.status_code == 400
    assert "filters" in response.json()["error"]["fields"]
    assert not ExportRecord.objects.exists()


# --- sync / async, progress --------------------------------------------------------------------


def test_large_exports_run_in_the_background(
    api_client, manager, make_customer, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_SYNC_LIMIT = 2
    for _ in range(3):
        make_customer()
    client = api_client(manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = export(client)

    assert response.status_code == 202
    data = response.json()["data"]
    assert data["status"] == "pending" and data["downloadUrl"] is None
    polled = client.get(data["statusUrl"]).json()["data"]
    assert polled["status"] == "done" and polled["progress"] == 100
    assert polled["rowCount"] == 3
    assert len(csv_rows(download(client, client.get(data["statusUrl"])))) == 4


def test_progress_is_saved_after_each_batch(make_customer, manager, monkeypatch):
    monkeypatch.setattr(service, "BATCH_SIZE", 2)
    for _ in range(5):
        make_customer()
    record = ExportRecord.objects.create(actor=manager, format="csv", fields=["name"])
    seen = []
    real_set = service._set

    def spy(record, **values):
        real_set(record, **values)
        if "progress" in values:
            seen.append((values.get("status"), values["progress"], values.get("row_count")))

    monkeypatch.setattr(service, "_set", spy)

    service.export_run(record.pk)

    assert seen == [
        (None, 40, 2),
        (None, 80, 4),
        (None, 99, 5),
        ("done", 100, 5),
    ]
    record.refresh_from_db()
    assert record.status == JobStatus.DONE and record.finished_at and record.file


def test_an_export_runs_once_when_its_task_is_delivered_twice(make_customer, manager):
    make_customer()
    record = ExportRecord.objects.create(actor=manager, format="csv", fields=["name"])

    service.export_run(record.pk)
    service.export_run(record.pk)

    assert AuditEvent.objects.filter(action="export").count() == 1


def test_a_failed_export_says_why(make_customer, manager, monkeypatch):
    make_customer()
    record = ExportRecord.objects.create(actor=manager, format="csv", fields=["name"])

    def broken(path, **kwargs):
        raise OSError("disk full")

    monkeypatch.setitem(service.WRITERS, "csv", broken)

    service.export_run(record.pk)

    record.refresh_from_db()
    assert record.status == JobStatus.FAILED and "disk full" in record.error
    assert not AuditEvent.objects.filter(action="export").exists()


# --- roles and history -------------------------------------------------------------------------


def test_finance_exports_masked_and_customer_service_cannot_export(
    api_client, finance, make_user, make_customer
):
    make_customer()
    service_staff = make_user("cs", roles=["customer_service"])

    assert export(api_client(finance)).status_code == 201
    assert export(api_client(service_staff)).status_code == 403


def test_history_shows_own_exports_or_all_with_the_view_permission(
    api_client, finance, manager, make_user, make_customer
):
    from django.contrib.auth.models import Permission

    make_customer()
    exporter = make_user("exporter")
    exporter.user_permissions.add(
        Permission.objects.get(codename="export_customer", content_type__app_label="customers")
    )
    export(api_client(finance))
    own = export(api_client(exporter)).json()["data"]

    mine = api_client(exporter).get("/api/v1/exports").json()["data"]["items"]
    everyone = api_client(manager).get("/api/v1/exports").json()["data"]["items"]

    assert [item["id"] for item in mine] == [own["id"]]
    assert len(everyone) == 2
    finance_record = ExportRecord.objects.get(actor=finance)
    assert api_client(exporter).get(f"/api/v1/exports/{finance_record.pk}").status_code == 404
    assert (
        api_client(exporter).get(f"/api/v1/exports/{finance_record.pk}/download").status_code == 404
    )
    assert (
        api_client(manager).get(f"/api/v1/exports/{finance_record.pk}/download").status_code == 200
    )


def test_others_files_need_download_any_file_and_unmasked_ones_the_reveal_permission(
    api_client, manager, finance, make_user, make_customer
):
    from django.contrib.auth.models import Permission

    make_customer()
    masked_id = export(api_client(manager)).json()["data"]["id"]
    unmasked_id = export(api_client(manager), unmasked=True, reason="核对").json()["data"]["id"]
    auditor = make_user("auditor", roles=["finance"])
    auditor.user_permissions.add(
        Permission.objects.get(codename="download_any_file", content_type__app_label="customers")
    )

    # finance sees the whole history (customers.view_exportrecord), downloads none of it
    assert api_client(finance).get(f"/api/v1/exports/{masked_id}").status_code == 200
    assert api_client(finance).get(f"/api/v1/exports/{masked_id}/download").status_code == 403
    assert api_client(auditor).get(f"/api/v1/exports/{masked_id}/download").status_code == 200
    assert api_client(auditor).get(f"/api/v1/exports/{unmasked_id}/download").status_code == 403


# --- one customer's PDF ------------------------------------------------------------------------


def test_customer_pdf_is_masked_without_the_reveal_permission(
    api_client, finance, make_customer, monkeypatch
):
    monkeypatch.setattr(writers, "PDF_COMPRESSION", 0)
    customer = make_customer(name="张三", phone="13800000107", tags=["辣"])

    response = api_client(finance).get(f"/api/v1/customers/{customer.pk}/pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "张三" in text and "138****0107" in text and "辣" in text
    assert "13800000107" not in text
    record = ExportRecord.objects.get(customer=customer)
    assert response["X-Export-Id"] == str(record.pk)
    assert record.masked and record.format == "pdf" and record.actor == finance
    event = AuditEvent.objects.get(action="export")
    assert event.object_id == str(record.pk) and event.summary["masked"] is True
    assert event.summary["customer"] == customer.pk
    assert not AuditEvent.objects.filter(action="reveal_pii").exists()


def test_customer_pdf_reveals_to_the_permitted_and_audits_it(
    api_client, make_user, make_customer, monkeypatch
):
    monkeypatch.setattr(writers, "PDF_COMPRESSION", 0)
    customer = make_customer(name="张三", phone="13800000108")
    record_order(
        actor=None,
        source="pos",
        external_id="POS-1",
        placed_at="2025-01-20T12:10:00+08:00",
        amount=Decimal("68.00"),
        customer_id=customer.pk,
        items=[{"dish": "宫保鸡丁", "category": "川菜", "quantity": 1, "price": 48}],
    )
    staff = make_user("cs", roles=["customer_service"])
    url = f"/api/v1/customers/{customer.pk}/pdf"

    masked = api_client(staff).get(url)
    no_reason = api_client(staff).get(url, {"unmasked": "true"})
    response = api_client(staff).get(url, {"unmasked": "true", "reason": "客户来电核对"})

    assert "13800000108" not in pdf_text(masked.content), "masked unless asked, as any export"
    assert no_reason.status_code == 400
    assert no_reason.json()["error"]["fields"] == {
        "reason": ["A reason is required for an unmasked export."]
    }
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert "13800000108" in text and "宫保鸡丁 ×1" in text and "POS-1" in text
    assert AuditEvent.objects.filter(action="reveal_pii", object_id=str(customer.pk)).exists()
    record = ExportRecord.objects.get(pk=response["X-Export-Id"])
    assert not record.masked and record.reason == "客户来电核对"
    history = api_client(staff).get("/api/v1/exports").json()["data"]["items"]
    assert [item["customerId"] for item in history] == [str(customer.pk)] * 2


def test_customer_pdf_unmasked_needs_the_reveal_permission(api_client, finance, make_customer):
    customer = make_customer()

    response = api_client(finance).get(
        f"/api/v1/customers/{customer.pk}/pdf", {"unmasked": "true", "reason": "x"}
    )

    assert response.status_code == 403
    assert not ExportRecord.objects.exists()


def test_customer_pdf_needs_the_view_permission(api_client, make_user, make_customer):
    customer = make_customer()

    response = api_client(make_user("nobody")).get(f"/api/v1/customers/{customer.pk}/pdf")

    assert response.status_code == 403


# --- a real worker ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_on_redis_writes_the_export(make_user, make_customer, tmp_path):
    """The task goes through Redis to `celery worker` in another process, which reads the test
    database (a transactional test, so the rows are committed) and writes the file."""
    from customers.tasks import export_customers

    manager = make_user("manager", roles=["manager"])
    make_customer(name="张三", phone="13800000109")
    record = ExportRecord.objects.create(actor=manager, format="csv", fields=["name", "phone"])
    with celery_worker(MEDIA_ROOT=str(tmp_path / "worker-media")) as worker:
        export_customers.apply_async((record.pk, "en"), queue=worker.queue)

        def finished():
            record.refresh_from_db()
            return record.status in {JobStatus.DONE, JobStatus.FAILED}

        worker.wait_for(finished)
    assert record.status == JobStatus.DONE, record.error
    assert record.row_count == 1
    stored = (tmp_path / "worker-media" / record.file.name).read_bytes()
    assert "张三".encode() not in stored, "encrypted at rest"
    with override_settings(MEDIA_ROOT=str(tmp_path / "worker-media")):
        content = record.file.open("rb").read()
    assert csv_rows(content) == [["name", "phone"], ["张三", "138****0109"]]


# --- the admin -------------------------------------------------------------------------------


@pytest.fixture
def admin_client_for(client):
    def make(user):
        client.force_login(user)
        return client

    return make


def test_changelist_export_button_carries_the_filters(admin_client_for, manager):
    client = admin_client_for(manager)

    page = client.get("/admin/customers/customer/", {"level__exact": "vip"}).content.decode()

    assert "/admin/customers/customer/export/?level__exact=vip" in page


def test_admin_export_page_exports_with_the_list_filters(admin_client_for, manager, make_customer):
    set_columns(make_customer(name="甲"), level="vip")
    make_customer(name="乙")
    client = admin_client_for(manager)

    page = client.get("/admin/customers/customer/export/", {"level__exact": "vip"})
    assert page.status_code == 200
    assert page.context["matching"] == 1
    response = client.post(
        "/admin/customers/customer/export/",
        {
            "format": "csv",
            "fields": ["name", "phone"],
            "filters": page.context["form"]["filters"].value(),
        },
    )

    record = ExportRecord.objects.get()
    assert response.status_code == 302 and str(record.pk) in response["Location"]
    assert record.filters == {"level": "vip"} and record.row_count == 1 and record.masked
    history = client.get("/admin/customers/exportrecord/").content.decode()
    assert f"/admin/customers/exportrecord/{record.pk}/download/" in history
    file = client.get(f"/admin/customers/exportrecord/{record.pk}/download/")
    assert csv_rows(b"".join(file.streaming_content))[1][0] == "甲"


def test_admin_unmasked_export_without_a_reason_is_refused(
    admin_client_for, manager, make_customer
):
    make_customer()
    client = admin_client_for(manager)

    response = client.post(
        "/admin/customers/customer/export/",
        {"format": "csv", "fields": ["name", "phone"], "filters": "{}", "unmasked": "on"},
    )

    assert response.status_code == 200 and response.context["form"].non_field_errors()
    assert not ExportRecord.objects.exists()


def test_admin_export_page_needs_the_permission(admin_client_for, make_user):
    client = admin_client_for(make_user("cs", roles=["customer_service"]))

    assert client.get("/admin/customers/customer/export/").status_code == 403


def test_customer_page_has_a_pdf_button_and_an_unmasked_one_for_revealers(
    admin_client_for, manager, make_user, make_customer
):
    customer = make_customer()
    url = f"/admin/customers/customer/{customer.pk}/change/"

    page = admin_client_for(manager).get(url).content.decode()
    masked_only = admin_client_for(make_user("ops", roles=["operations"])).get(url)

    assert f"/api/v1/customers/{customer.pk}/pdf" in page
    assert 'name="unmasked" value="true"' in page and 'name="reason" required' in page
    assert f"/api/v1/customers/{customer.pk}/pdf" in masked_only.content.decode()
    assert 'name="unmasked"' not in masked_only.content.decode()


@pytest.mark.parametrize("phone", ["+8613800138000", "+85291234567", "+14155550123", "", None])
@pytest.mark.parametrize("masked", [True, False])
def test_the_fast_phone_column_shows_what_the_detail_shows(phone, masked):
    from customers.exports.fields import _phone_renderer
    from customers.pii_access import shown_phone

    assert _phone_renderer(masked=masked)(phone) == (shown_phone(phone, reveal=not masked) or "")
