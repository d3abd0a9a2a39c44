from django.db import migrations

from crm.schedules import daily_task


def schedule_nightly(apps, schema_editor):
    # After membership's night (02:30), so that segments read the new tiers.
    daily_task(
        apps,
        name="segments.nightly",
        hour=3,
        minute=30,
        description="RFM run over the last year, then every segment refreshed.",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_nightly, migrations.RunPython.noop)]
