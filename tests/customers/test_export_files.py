"""The files of exports and imports (issue 11, spec 3.3): encrypted at rest, downloaded only by
their owner or a manager, masked for staff who may not reveal, every download audited, expired
after the retention period (410) and deleted by the nightly purge."""

import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from crm import file_vault
from crm.models import AuditEvent, JobRun
from customers.imports.customers import customers_import
from customers.models import Customer, ExportRecord, ImportRecord
from customers.services.files import UPLOADS, purge_expired_files

pytestmark = pytest.mark.django_db

CSV = (
    "姓名,手机号,邮箱,生日\n"
    "张三,13800138000,zs@example.com,1990-05-20\n"
    "李四,12345,ls@example.com,\n"
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LANGUAGE_CODE = "en"


def body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def export(client, **values):
    values.setdefault("format", "csv")
    values.setdefault("fields", ["name", "phone", "email", "birthday"])
    response = client.post("/api/v1/customers/export", values, format="json")
    assert response.status_code == 201, response.content
    return ExportRecord.objects.get(pk=response.json()["data"]["id"])


def stored_bytes(field_file) -> bytes:
    return Path(field_file.storage.path(field_file.name)).read_bytes()


def import_with_errors(tmp_path, actor) -> ImportRecord:
    path = tmp_path / "customers.csv"
    path.write_text(CSV, encoding="utf-8-sig")
    result = customers_import(actor=actor, path=path)
    assert result.failed == 1
    return result.record


# --- the vault -------------------------------------------------------------------------------


def test_a_file_is_encrypted_in_chunks_and_reads_back_whole(monkeypatch):
    monkeypatch.setattr(file_vault, "CHUNK_SIZE", 7)
    plaintext = "张三,13800138000\n".encode() * 50
    storage = file_vault.encrypted_storage()

    name = storage.save("exports/t.csv", ContentFile(plaintext))

    stored = Path(storage.path(name)).read_bytes()
    assert stored.startswith(file_vault.MAGIC)
    assert b"13800138000" not in stored and "张三".encode() not in stored
    assert stored.count(b"gAAAAA") > 100, "one Fernet token per chunk"
    with storage.open(name) as file:
        assert file.read() == plaintext


def test_files_written_under_an_older_key_open_after_a_rotation(settings):
    storage = file_vault.encrypted_storage()
    name = storage.save("exports/old.csv", ContentFile(b"secret"))

    settings.FIELD_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.FIELD_ENCRYPTION_KEYS,
    ]

    with storage.open(name) as file:
        assert file.read() == b"secret"


def test_a_plaintext_file_is_refused_and_encrypted_in_place_once(tmp_path):
    storage = file_vault.encrypted_storage()
    path = Path(storage.path("exports/legacy.csv"))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"13800138000")

    with pytest.raises(file_vault.NotEncrypted):
        storage.open("exports/legacy.csv")
    assert file_vault.encrypt_in_place(path) is True
    assert file_vault.encrypt_in_place(path) is False
    assert b"13800138000" not in path.read_bytes()
    with storage.open("exports/legacy.csv") as file:
        assert file.read() == b"13800138000"


def test_encrypted_files_are_not_opened_for_writing():
    with pytest.raises(ValueError, match="reading"):
        file_vault.encrypted_storage().open("exports/x.csv", "wb")


# --- exports ---------------------------------------------------------------------------------


def test_every_pii_column_is_masked_by_default(api_client, manager, make_customer):
    from datetime import date

    make_customer(name="张三", phone="13800138000", email="zs@example.com")
    Customer.objects.update(birthday=date(1990, 5, 20))

    masked = body(
        api_client(manager).get(f"/api/v1/exports/{export(api_client(manager)).pk}/download")
    )
    unmasked_record = export(api_client(manager), unmasked=True, reason="对账")
    unmasked = body(api_client(manager).get(f"/api/v1/exports/{unmasked_record.pk}/download"))

    assert (
        masked.decode("utf-8-sig").splitlines()[1] == "张三,138****8000,z*@example.com,****-05-20"
    )
    assert (
        unmasked.decode("utf-8-sig").splitlines()[1] == "张三,13800138000,zs@example.com,1990-05-20"
    )


def test_the_export_file_is_encrypted_at_rest_and_each_download_audited(
    api_client, manager, make_customer
):
    make_customer(name="张三", phone="13800138000")
    record = export(api_client(manager))
    assert "张三".encode() not in stored_bytes(record.file)
    assert record.expires_at == pytest.approx(
        timezone.now() + timedelta(days=7), abs=timedelta(minutes=1)
    )

    for _ in range(2):
        response = api_client(manager).get(f"/api/v1/exports/{record.pk}/download")
        assert "张三" in body(response).decode("utf-8-sig")

    events = AuditEvent.objects.filter(action="download", object_id=str(record.pk))
    assert events.count() == 2
    assert events.first().summary == {"file": "export", "masked": True, "owner": manager.pk}


def test_the_download_permission_decides_without_the_permission_to_list_exports(
    api_client, manager, make_user, make_customer
):
    make_customer()
    record = export(api_client(manager))
    downloader = make_user("downloader")
    downloader.user_permissions.add(Permission.objects.get(codename="download_any_file"))
    url = f"/api/v1/exports/{record.pk}/download"

    assert not downloader.has_perm("customers.view_exportrecord")
    assert api_client(downloader).get(url).status_code == 200
    assert api_client(make_user("other")).get(url).status_code == 404
    lister = make_user("lister")
    lister.user_permissions.add(Permission.objects.get(codename="view_exportrecord"))
    assert api_client(lister).get(url).status_code == 403
    assert api_client(downloader).get("/api/v1/exports/999999/download").status_code == 404


def test_an_expired_export_answers_410_before_and_after_the_purge(
    api_client, manager, make_customer
):
    make_customer()
    record = export(api_client(manager))
    ExportRecord.objects.filter(pk=record.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    client = api_client(manager)

    before = client.get(f"/api/v1/exports/{record.pk}/download")
    purge_expired_files()
    after = client.get(f"/api/v1/exports/{record.pk}/download")

    for response in (before, after):
        assert response.status_code == 410
        error = response.json()["error"]
        assert error["code"] == "file_expired" and "Export again" in error["message"]
    assert client.get(f"/api/v1/exports/{record.pk}").json()["data"]["downloadUrl"] is None
    assert not AuditEvent.objects.filter(action="download").exists()


def test_a_done_export_without_its_file_is_404_not_expired(api_client, manager):
    record = ExportRecord.objects.create(
        actor=manager,
        format="csv",
        fields=["name"],
        status="done",
        expires_at=timezone.now() + timedelta(days=3),
    )

    response = api_client(manager).get(f"/api/v1/exports/{record.pk}/download")

    assert response.status_code == 404
    assert "expired" not in response.json()["error"]["message"]


def test_a_file_gone_from_the_disk_is_404_and_no_download_is_audited(
    api_client, manager, make_customer
):
    make_customer()
    record = export(api_client(manager))
    os.remove(record.file.path)

    response = api_client(manager).get(f"/api/v1/exports/{record.pk}/download")

    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="download").exists()


def test_a_customer_pdf_whose_record_fails_leaves_no_file(manager, make_customer, monkeypatch):
    from customers.exports import service

    customer = make_customer()

    def fail(**kwargs):
        raise RuntimeError("audit down")

    monkeypatch.setattr(service, "record_event", fail)
    with pytest.raises(RuntimeError):
        service.export_customer_pdf(actor=manager, customer_id=customer.pk)

    media = Path(file_vault.encrypted_storage().location)
    assert not [path for path in media.rglob("*") if path.is_file()]
    assert not ExportRecord.objects.exists()


def test_the_admin_sends_an_expired_download_back_with_the_reason(client, manager, make_customer):
    make_customer()
    record = ExportRecord.objects.create(
        actor=manager, format="csv", fields=["name"], status="done", expires_at=timezone.now()
    )
    client.force_login(manager)

    response = client.get(
        reverse("admin:customers_exportrecord_download", args=[record.pk]), follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("admin:customers_exportrecord_changelist")
    assert "expired" in str(next(iter(response.context["messages"])))


# --- import error files ----------------------------------------------------------------------


def test_the_error_file_is_encrypted_expires_and_belongs_to_the_importer(
    tmp_path, client, make_user
):
    importer = make_user("importer", roles=["operations"])
    colleague = make_user("colleague", roles=["operations"])
    record = import_with_errors(tmp_path, importer)
    url = reverse("admin:customers_customer_import_errors", args=[record.pk])

    assert b"12345" not in stored_bytes(record.error_file)
    assert record.expires_at > timezone.now() + timedelta(days=6)
    client.force_login(colleague)
    assert client.get(url).status_code == 403
    client.force_login(importer)
    own = client.get(url)

    assert own.status_code == 200
    text = body(own).decode("utf-8-sig")
    assert "李四,***45,l*@example.com" in text, "masked: operations may not reveal"
    assert "ls@example.com" not in text
    event = AuditEvent.objects.get(action="download", object_id=str(record.pk))
    assert event.actor == importer and event.summary["masked"] is True


def test_a_manager_downloads_anyones_error_file_unmasked(tmp_path, client, manager, make_user):
    record = import_with_errors(tmp_path, make_user("importer", roles=["operations"]))
    client.force_login(manager)

    response = client.get(reverse("admin:customers_customer_import_errors", args=[record.pk]))

    assert "李四,12345,ls@example.com" in body(response).decode("utf-8-sig")
    assert AuditEvent.objects.get(action="download").summary["masked"] is False


def test_an_xlsx_error_file_is_masked_too(tmp_path, client, make_user):
    import openpyxl

    importer = make_user("importer", roles=["operations"])
    workbook = openpyxl.Workbook()
    workbook.active.append(["姓名", "手机号", "生日"])
    workbook.active.append(["李四", "12345", "1990-99-99"])
    workbook.save(tmp_path / "c.xlsx")
    record = customers_import(actor=importer, path=tmp_path / "c.xlsx").record
    client.force_login(importer)

    response = client.get(reverse("admin:customers_customer_import_errors", args=[record.pk]))

    rows = list(openpyxl.load_workbook(io.BytesIO(body(response))).active.values)
    assert rows[1][:3] == ("李四", "***45", "****-99-99")


# --- the purge -------------------------------------------------------------------------------


def test_the_purge_deletes_expired_files_and_old_uploads_and_keeps_the_rest(
    tmp_path, api_client, manager, make_customer, settings
):
    make_customer()
    expired, kept = export(api_client(manager)), export(api_client(manager))
    ExportRecord.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    errors = import_with_errors(tmp_path, manager)
    ImportRecord.objects.filter(pk=errors.pk).update(expires_at=timezone.now())
    storage = file_vault.encrypted_storage()
    old_upload = storage.save(f"{UPLOADS}/old.csv", ContentFile(b"x"))
    new_upload = storage.save(f"{UPLOADS}/new.csv", ContentFile(b"x"))
    eight_days_ago = (timezone.now() - timedelta(days=8)).timestamp()
    os.utime(storage.path(old_upload), (eight_days_ago, eight_days_ago))
    paths = {name: Path(storage.path(name)) for name in (expired.file.name, errors.error_file.name)}

    run = purge_expired_files()

    assert run.counts == {"exports": 1, "error_files": 1, "uploads": 1}
    assert not any(path.exists() for path in paths.values())
    assert not storage.exists(old_upload) and storage.exists(new_upload)
    assert storage.exists(kept.file.name)
    expired.refresh_from_db()
    assert expired.file.name == "" and expired.row_count == 1, "the history stays"
    assert purge_expired_files().counts == {"exports": 0, "error_files": 0, "uploads": 0}
    assert JobRun.objects.filter(name="customers.purge_expired_files", status="done").count() == 2


def test_the_purge_is_scheduled_and_has_a_command(capsys):
    task = PeriodicTask.objects.get(name="customers.purge_expired_files")
    assert task.task == "customers.purge_expired_files" and task.crontab.hour == "3"

    call_command("purge_expired_files")

    assert "customers.purge_expired_files" in capsys.readouterr().out


def test_the_admin_upload_waits_encrypted_between_the_steps(client, manager):
    client.force_login(manager)
    file = io.BytesIO(CSV.encode("utf-8-sig"))
    file.name = "customers.csv"

    response = client.post(reverse("admin:customers_customer_import"), {"file": file})

    assert response.status_code == 302
    storage = file_vault.encrypted_storage()
    (name,) = storage.listdir(UPLOADS)[1]
    assert b"13800138000" not in Path(storage.path(f"{UPLOADS}/{name}")).read_bytes()
    assert client.get(response["Location"]).status_code == 200, "the mapping step reads it"


def test_the_customer_pdf_masks_the_birthday_year_and_the_recipient(
    api_client, make_user, make_customer, monkeypatch
):
    from datetime import date

    from customers.exports import writers
    from customers.services.addresses import address_add
    from tests.customers.test_exports import pdf_text

    monkeypatch.setattr(writers, "PDF_COMPRESSION", 0)
    customer = make_customer(name="张三", phone="13800138000")
    Customer.objects.filter(pk=customer.pk).update(birthday=date(1990, 5, 20))
    address_add(
        customer=customer, actor=None, recipient="李大明", phone="13900139000", detail="人民路1号"
    )
    staff = make_user("cs", roles=["customer_service"])
    url = f"/api/v1/customers/{customer.pk}/pdf"

    masked = pdf_text(api_client(staff).get(url).content)
    unmasked = pdf_text(api_client(staff).get(url, {"unmasked": "1", "reason": "核对"}).content)

    assert "****-05-20" in masked and "1990" not in masked
    assert "李*明" in masked and "李大明" not in masked and "人民路" not in masked
    assert "1990-05-20" in unmasked and "李大明" in unmasked and "人民路1号" in unmasked


def test_the_plaintext_copy_is_deleted_when_its_block_ends_even_on_an_error():
    name = file_vault.encrypted_storage().save("imports/uploads/u.csv", ContentFile(b"13800138000"))

    with pytest.raises(RuntimeError), file_vault.plain_copy(name, suffix=".csv") as path:
        copy = Path(path)
        assert copy.read_bytes() == b"13800138000"
        raise RuntimeError

    assert not copy.exists()
