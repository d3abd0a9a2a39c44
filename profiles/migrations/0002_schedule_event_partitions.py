from django.db import migrations

from crm.schedules import daily_task


def schedule_partitions(apps, schema_editor):
    # At night, after the access log's job (03:15): dropping a partition takes a brief lock.
    daily_task(
        apps,
        name="profiles.event_partitions",
        hour=3,
        minute=30,
        description="Behaviour events: next month's partition created ahead, expired ones dropped.",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0001_behaviour_events"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_partitions, migrations.RunPython.noop)]
