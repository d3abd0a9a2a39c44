from django.db import migrations

from crm.schedules import daily_task


def schedule_reminders(apps, schema_editor):
    # Before the restaurants open: owners plan their calls with the digest in hand.
    daily_task(
        apps,
        name="customers.follow_up_reminders",
        hour=8,
        minute=0,
        description="Follow-up digests to their owners; long-overdue ones to the managers.",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0008_follow_up_owner_and_reminders"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_reminders, migrations.RunPython.noop)]
