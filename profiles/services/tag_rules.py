"""Applying tag rules (spec 2.4.4): set-based, one INSERT and one DELETE per rule.

For each active rule, the live customers meeting its condition who lack its tag get it
(source rule, the rule's confidence), and the rule-set links of its tag whose customer no longer
meets it are deleted. A manual link is never deleted, and a matching customer who carries the tag
manually keeps it manual. The links of inactive or deleted rules are deleted. Applying again
changes nothing. Rule-set changes are counted in the JobRun, not written to each customer's
history (millions of rows a night); staff changes are (customers.services.customer_tags).
"""

from functools import partial

from django.db import connection, transaction
from django.db.models import F, OuterRef, QuerySet
from django.utils import timezone

from crm.audit import record_event
from crm.jobs import job_run
from customers.conditions import compile_condition, normalize_condition
from customers.models import Customer, CustomerTag, TagSource
from profiles.models import TagRule

JOB_NAME = "profiles.apply_tag_rules"


def apply_tag_rules(*, rule_ids=None) -> dict:
    """Apply the active rules (those of `rule_ids` when given) to every customer, logged as a
    JobRun. Returns {"added": n, "removed": n}."""
    with job_run(JOB_NAME) as run:
        run.counts = _apply(rule_ids=rule_ids, customers=None)
    return run.counts


def apply_tag_rules_to_customers(customer_ids) -> dict:
    """Re-evaluate every active rule for these customers (after an order, a refund or a batch
    of events, once their portraits are refreshed): the same statements, restricted to their
    rows."""
    return _apply(rule_ids=None, customers=Customer.objects.filter(pk__in=list(customer_ids)))


def _apply(*, rule_ids, customers: QuerySet | None) -> dict:
    rules = TagRule.objects.select_related("tag")
    if rule_ids is not None:
        rules = rules.filter(pk__in=rule_ids)
    counts = {"rules": 0, "added": 0, "removed": 0}
    with transaction.atomic():
        for rule in rules:
            counts["rules"] += 1
            added, removed = _apply_rule(rule, customers)
            counts["added"] += added
            counts["removed"] += removed
        if rule_ids is None:
            counts["removed"] += _remove_orphans(customers)
    return counts


def _apply_rule(rule: TagRule, customers: QuerySet | None) -> tuple[int, int]:
    scope = Customer.objects.all() if customers is None else customers
    rule_set = CustomerTag.objects.filter(tag=rule.tag, source=TagSource.RULE)
    if customers is not None:
        rule_set = rule_set.filter(customer__in=customers.values("pk"))
    if not rule.active:
        return 0, rule_set.delete()[0]
    matching = scope.live().filter(compile_condition(rule.condition))
    removed = rule_set.exclude(customer__in=matching.values("pk")).delete()[0]
    select_sql, params = matching.values(matching_id=F("pk")).query.sql_with_params()
    # The customers meeting the condition who lack the tag, whoever set it: a manual link stays.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO customers_customertag
                (customer_id, tag_id, created_at, source, confidence, rule_id)
            SELECT matching.matching_id, %s, %s, %s, %s, %s FROM ({select_sql}) AS matching
            ON CONFLICT (tag_id, customer_id) DO NOTHING
            """,
            [rule.tag_id, timezone.now(), TagSource.RULE, rule.confidence, rule.pk, *params],
        )
        added = cursor.rowcount
    return added, removed


def _remove_orphans(customers: QuerySet | None) -> int:
    """Rule-set links whose rule is gone (deleted) or no longer the tag's rule."""
    orphans = CustomerTag.objects.filter(source=TagSource.RULE).exclude(
        rule_id__in=TagRule.objects.filter(tag=OuterRef("tag")).values("pk")
    )
    if customers is not None:
        orphans = orphans.filter(customer__in=customers.values("pk"))
    return orphans.delete()[0]


def tag_rule_save(*, rule: TagRule, actor, changed: list[str] | None = None) -> TagRule:
    """Create (`changed` None) or save a changed rule, its condition checked by the engine, and
    apply it once committed, so that its tags follow at once rather than at night."""
    rule.condition = normalize_condition(rule.condition)
    if changed is None:
        rule.created_by = actor
    with transaction.atomic():
        rule.save()
        record_event(
            action="create" if changed is None else "update",
            actor=actor,
            obj=rule,
            summary={"tag": rule.tag.name, "fields": sorted(changed or [])},
        )
        transaction.on_commit(partial(apply_tag_rules, rule_ids=[rule.pk]))
    return rule


def tag_rule_delete(*, rule: TagRule, actor) -> None:
    """Delete a rule and the tags it set (the links carry its id, not a foreign key)."""
    with transaction.atomic():
        CustomerTag.objects.filter(rule_id=rule.pk, source=TagSource.RULE).delete()
        record_event(action="delete", actor=actor, obj=rule, summary={"tag": rule.tag.name})
        rule.delete()
