"""Celery tasks of the customers app: thin wrappers that call services."""

from celery import shared_task

from customers.exports.service import export_run


@shared_task(name="customers.export_customers")
def export_customers(record_id: int, language: str | None = None) -> None:
    export_run(record_id, language=language)
