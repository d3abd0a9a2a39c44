"""Celery tasks of the profiles app: thin wrappers that call services."""

from celery import shared_task

from profiles.services import portraits
from profiles.services.event_partitions import EVENTS
from profiles.services.tag_rules import apply_tag_rules as apply


@shared_task(name=EVENTS.job_name)
def event_partitions() -> None:
    EVENTS.maintain()


@shared_task(name="profiles.apply_tag_rules")
def apply_tag_rules(rule_ids: list[int] | None = None):
    return apply(rule_ids=rule_ids)


@shared_task(name="profiles.rebuild_profiles")
def rebuild_profiles() -> dict:
    return portraits.rebuild_portraits().counts


@shared_task(name="profiles.rebuild_profiles_full")
def rebuild_profiles_full() -> dict:
    return portraits.rebuild_portraits(full=True).counts
