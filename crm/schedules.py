"""Beat rows installed in code (DESIGN.md: every scheduled job is a django-celery-beat row that a
migration installs), so that a fresh database schedules its nightly work without an operator.

Call `daily_task` from a data migration's RunPython with the migration's `apps`; the row is only
created when missing, so an operator's later change of its time survives re-running migrations.
"""


def daily_task(
    apps,
    *,
    name: str,
    hour: int,
    minute: int,
    description: str,
    task: str = "",
    day_of_month: str = "*",
) -> None:
    """Install the PeriodicTask `name` running `task` (default: `name`) daily at hour:minute,
    China time (Asia/Shanghai, the restaurants' clock); only on `day_of_month` when given (a
    monthly job)."""
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _created = CrontabSchedule.objects.get_or_create(
        minute=str(minute),
        hour=str(hour),
        day_of_week="*",
        day_of_month=day_of_month,
        month_of_year="*",
        timezone="Asia/Shanghai",
    )
    PeriodicTask.objects.get_or_create(
        name=name,
        defaults={"task": task or name, "crontab": crontab, "description": description},
    )
