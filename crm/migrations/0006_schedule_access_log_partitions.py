from django.db import migrations

from crm.schedules import daily_task


def schedule_partitions(apps, schema_editor):
    # At night, when few staff read: dropping a partition takes a brief lock on the table.
    daily_task(
        apps,
        name="crm.access_log_partitions",
        hour=3,
        minute=15,
        description="Access log: next month's partition created ahead, expired ones dropped.",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0005_accesslog"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_partitions, migrations.RunPython.noop)]
