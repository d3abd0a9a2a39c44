"""Celery tasks of the kernel: thin wrappers that call services."""

from celery import shared_task

from crm.access_log_partitions import JOB_NAME, maintain_access_log_partitions


@shared_task(name=JOB_NAME)
def access_log_partitions() -> None:
    maintain_access_log_partitions()
