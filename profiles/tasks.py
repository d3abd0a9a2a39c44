"""Celery tasks of the profiles app: thin wrappers that call services."""

from celery import shared_task

from profiles.services.event_partitions import EVENTS


@shared_task(name=EVENTS.job_name)
def event_partitions() -> None:
    EVENTS.maintain()
