from django.db import migrations


def schedule_nightly(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # After membership's night (02:30), so that segments read the new tiers.
    crontab, _created = CrontabSchedule.objects.get_or_create(
        minute="30",
        hour="3",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="Asia/Shanghai",
    )
    PeriodicTask.objects.get_or_create(
        name="segments.nightly",
        defaults={
            "task": "segments.nightly",
            "crontab": crontab,
            "description": "RFM run over the last year, then every segment refreshed.",
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_nightly, migrations.RunPython.noop)]
