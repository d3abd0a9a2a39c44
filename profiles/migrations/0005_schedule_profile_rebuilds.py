from django.db import migrations

from crm.schedules import daily_task


def schedule_rebuilds(apps, schema_editor):
    # Nightly, the customers whose orders or events changed; monthly, everyone, after the event
    # partitions job (03:30) dropped the month that left the retention window.
    daily_task(
        apps,
        name="profiles.rebuild_profiles",
        hour=2,
        minute=45,
        description="Portraits: incremental rebuild of the customers with new orders or events.",
    )
    daily_task(
        apps,
        name="profiles.rebuild_profiles_full",
        hour=4,
        minute=0,
        day_of_month="1",
        description="Portraits: full rebuild of every customer.",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0004_customer_profiles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_rebuilds, migrations.RunPython.noop)]
