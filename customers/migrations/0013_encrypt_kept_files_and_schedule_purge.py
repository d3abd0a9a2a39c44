from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import migrations
from django.utils import timezone

from crm.file_vault import encrypt_in_place, encrypted_storage
from crm.schedules import daily_task

KEPT_FILES = (
    ("ExportRecord", "file", "EXPORT_FILE_RETENTION_DAYS"),
    ("ImportRecord", "error_file", "IMPORT_FILE_RETENTION_DAYS"),
)


def encrypt_kept_files(apps, schema_editor):
    """Files written before encryption at rest: encrypted in place and given the usual time
    left; a record whose file is already gone loses its name. Uploads left between the import
    steps are deleted: nobody can finish those imports after the upgrade."""
    storage = encrypted_storage()
    now = timezone.now()
    for model_name, field, retention in KEPT_FILES:
        model = apps.get_model("customers", model_name)
        expiry = now + timedelta(days=getattr(settings, retention))
        for pk, name in model.objects.exclude(**{field: ""}).values_list("pk", field):
            path = Path(storage.path(name))
            if not path.exists():
                model.objects.filter(pk=pk).update(**{field: "", "expires_at": now})
                continue
            encrypt_in_place(path)
            model.objects.filter(pk=pk).update(expires_at=expiry)
    uploads = Path(storage.path("imports/uploads"))
    if uploads.is_dir():
        for upload in uploads.iterdir():
            upload.unlink()


def schedule_purge(apps, schema_editor):
    daily_task(
        apps,
        name="customers.purge_expired_files",
        hour=3,
        minute=30,
        description="Export and import-error files past their expiry, abandoned uploads: deleted.",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0012_export_files_encrypted_and_expiring"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(encrypt_kept_files, migrations.RunPython.noop),
        migrations.RunPython(schedule_purge, migrations.RunPython.noop),
    ]
