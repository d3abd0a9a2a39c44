"""Staff adding and removing a customer's tags one by one (spec 2.4.4 手动标注).

A tag staff add is manual: confidence 1, and no tag rule ever removes it. Adding a tag a rule
had set makes it manual (staff confirm it). Removing a tag removes it whoever set it; a rule
that still matches the customer sets it again at its next evaluation (nightly, or the
customer's next order), because removing is not excluding: to keep a customer out of a rule,
change the rule's condition. Each change is one history record of the customer (its tags as
they now are, through the relation as customer_update writes them) and one audit event.
"""

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event
from customers.models import Customer, CustomerTag, Tag, TagSource
from customers.services.records import check_may_tag
from customers.services.tags import tags_get_or_create


def manual_tag_ids(links) -> dict[int, set[int]]:
    """The ids of the tags each customer of `links` (CustomerTag rows) carries as manual ones:
    a tag staff add that is not among them changes the customer, added or made manual."""
    manual = defaultdict(set)
    for customer_id, tag_id in links.filter(source=TagSource.MANUAL).values_list(
        "customer_id", "tag_id"
    ):
        manual[customer_id].add(tag_id)
    return manual


def make_manual(links) -> int:
    """Staff adding a tag a rule had set confirm it: the links become manual (confidence 1,
    no rule), and no rule removes them then. Returns how many changed."""
    return links.exclude(source=TagSource.MANUAL).update(
        source=TagSource.MANUAL, confidence=Decimal(1), rule_id=None
    )


def customer_tags_add(*, customer: Customer, actor, names: Iterable[str]) -> list[str]:
    """Give `customer` these tags as manual ones, creating unknown tags (which needs
    customers.add_tag). Returns the names that changed: added, or made manual."""
    check_may_tag(actor)
    with transaction.atomic():
        tags = tags_get_or_create(names, actor=actor)
        manual = manual_tag_ids(CustomerTag.objects.filter(customer=customer))[customer.pk]
        wanted = [tag for tag in tags if tag.pk not in manual]
        if not wanted:
            return []
        # A rule-set link becomes manual: dropped here and added again through the relation,
        # so that the history record shows it manual.
        CustomerTag.objects.filter(customer=customer, tag__in=wanted).delete()
        customer._history_user = actor
        customer._change_reason = str(_("Tags added"))
        customer.tags.add(*wanted)
        added = sorted(tag.name for tag in wanted)
        record_event(
            action="update",
            actor=actor,
            obj=customer,
            summary={"fields": ["tags"], "addTags": added},
        )
    return added


def customer_tags_remove(*, customer: Customer, actor, names: Iterable[str]) -> list[str]:
    """Take these tags off `customer`, manual or rule-set; unknown names and tags the customer
    does not carry are ignored. Returns the names removed."""
    check_may_tag(actor)
    with transaction.atomic():
        tags = list(
            Tag.objects.filter(name__in=list(names), customertag__customer=customer).order_by(
                "name"
            )
        )
        if not tags:
            return []
        customer._history_user = actor
        customer._change_reason = str(_("Tags removed"))
        customer.tags.remove(*tags)
        removed = [tag.name for tag in tags]
        record_event(
            action="update",
            actor=actor,
            obj=customer,
            summary={"fields": ["tags"], "removeTags": removed},
        )
    return removed
