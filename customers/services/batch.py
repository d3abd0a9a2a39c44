"""The same change applied to many customers at once (spec 2.1.3 批量操作): all or nothing,
set-based, with a history record per changed customer."""

from collections import defaultdict
from collections.abc import Iterable

from django.apps import apps
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event
from crm.errors import BusinessError
from customers.models import (
    Customer,
    CustomerTag,
    Tag,
)
from customers.services.customer_tags import make_manual, manual_tag_ids
from customers.services.records import check_may_edit, check_may_tag, check_status_change
from customers.services.tags import tags_get_or_create

BATCH_FIELDS = {"status", "source"}

BATCH_LIMIT = 10_000


def customers_batch_update(
    *,
    actor,
    customers: QuerySet,
    set_fields: dict,
    add_tags: Iterable[str] = (),
    remove_tags: Iterable[str] = (),
    reason: str = "",
) -> int:
    """Apply the same status/source and tag changes to many customers, all or nothing.

    Every changed customer gets a history record; returns how many customers changed.
    """
    unknown = set(set_fields) - BATCH_FIELDS
    if unknown:
        raise BusinessError(
            _("Batch edit can set only %(allowed)s, not %(fields)s.")
            % {"allowed": ", ".join(sorted(BATCH_FIELDS)), "fields": ", ".join(sorted(unknown))}
        )
    check_may_edit(actor, set(set_fields))
    if add_tags or remove_tags:
        check_may_tag(actor)
    for name, value in set_fields.items():
        Customer._meta.get_field(name).clean(value, None)
    if "status" in set_fields:
        check_status_change(actor, set_fields["status"])
    ids = list(customers.order_by().values_list("pk", flat=True)[: BATCH_LIMIT + 1])
    if len(ids) > BATCH_LIMIT:
        raise BusinessError(
            _("A batch edit may change at most %(limit)s customers; narrow the filter.")
            % {"limit": BATCH_LIMIT}
        )
    added = tags_get_or_create(add_tags, actor=actor)
    removed = list(Tag.objects.filter(name__in=list(remove_tags)))
    with transaction.atomic():
        changed = _apply_batch(
            list(Customer.objects.filter(pk__in=ids).select_for_update().order_by("pk")),
            set_fields=set_fields,
            added=added,
            removed=removed,
        )
        _record_batch_history(changed, actor=actor, reason=reason or str(_("Batch edit")))
        record_event(
            action="batch_update",
            actor=actor,
            object_type="customers.customer",
            summary={
                "set": set_fields,
                "addTags": [tag.name for tag in added],
                "removeTags": [tag.name for tag in removed],
                "matched": len(ids),
                "updated": len(changed),
            },
        )
    return len(changed)


def _apply_batch(customers: list[Customer], *, set_fields, added, removed) -> list[Customer]:
    """Set-based: one UPDATE for the fields, one INSERT and one DELETE for the tags, whatever
    the number of customers. Returns the customers that changed."""
    ids = [customer.pk for customer in customers]
    links_of = CustomerTag.objects.filter(customer_id__in=ids)
    tags_of = defaultdict(set)
    for customer_id, tag_id in links_of.values_list("customer_id", "tag_id"):
        tags_of[customer_id].add(tag_id)
    manual_of = manual_tag_ids(links_of)
    now = timezone.now()
    changed, links = [], []
    for customer in customers:
        fields = [name for name, value in set_fields.items() if getattr(customer, name) != value]
        # As one by one (customer_tags_add): a tag a rule had set changes, made manual.
        to_add = [tag for tag in added if tag.pk not in manual_of[customer.pk]]
        to_remove = {tag.pk for tag in removed} & tags_of[customer.pk]
        if not (fields or to_add or to_remove):
            continue
        for name in fields:
            setattr(customer, name, set_fields[name])
        customer.updated_at = now
        changed.append(customer)
        links += [
            CustomerTag(customer=customer, tag=tag)
            for tag in to_add
            if tag.pk not in tags_of[customer.pk]
        ]
    changed_ids = [customer.pk for customer in changed]
    Customer.objects.bulk_update(changed, [*set_fields, "updated_at"], batch_size=1000)
    CustomerTag.objects.bulk_create(links, batch_size=1000)
    if added:
        make_manual(CustomerTag.objects.filter(customer_id__in=changed_ids, tag__in=added))
    if removed:
        CustomerTag.objects.filter(customer_id__in=changed_ids, tag__in=removed).delete()
    return changed


def _record_batch_history(customers: list[Customer], *, actor, reason: str) -> None:
    """One history record per changed customer, with its tags as they now are (what
    simple-history writes for one save, done in bulk)."""
    records = Customer.history.bulk_history_create(
        customers, batch_size=1000, update=True, default_user=actor, default_change_reason=reason
    )
    if not records:
        return
    record_of = {record.id: record for record in records}
    tag_history = apps.get_model("customers", "HistoricalCustomerTag")
    tag_history.objects.bulk_create(
        [
            tag_history(
                history=record_of[link.customer_id],
                id=link.pk,
                customer_id=link.customer_id,
                tag_id=link.tag_id,
                created_at=link.created_at,
                source=link.source,
                confidence=link.confidence,
                rule_id=link.rule_id,
            )
            for link in CustomerTag.objects.filter(customer_id__in=record_of)
        ],
        batch_size=1000,
    )
