"""Celery tasks of the customers app: thin wrappers that call services."""

from celery import shared_task

from customers.exports.service import export_run
from customers.services.files import PURGE_JOB, purge_expired_files
from customers.services.follow_up_reminders import run_follow_up_reminders


@shared_task(name="customers.export_customers")
def export_customers(record_id: int, language: str | None = None) -> None:
    export_run(record_id, language=language)


@shared_task(name="customers.follow_up_reminders")
def follow_up_reminders() -> None:
    run_follow_up_reminders()


@shared_task(name=PURGE_JOB)
def purge_files() -> None:
    purge_expired_files()
