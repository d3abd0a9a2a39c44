"""Celery tasks of the profiles app: thin wrappers that call services."""

from celery import shared_task

from profiles.services.event_partitions import EVENTS
from profiles.services.tag_rules import apply_tag_rules as apply


@shared_task(name=EVENTS.job_name)
def event_partitions() -> None:
    EVENTS.maintain()


@shared_task(name="profiles.apply_tag_rules")
def apply_tag_rules(rule_ids: list[int] | None = None):
    return apply(rule_ids=rule_ids)
