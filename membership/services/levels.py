"""Tiers as configuration (spec 2.2.1), a customer's tier changed by hand (spec 2.2.3), and the one
writer of Customer.level (set_levels, swap_levels: DESIGN.md, one writer per column)."""

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event
from crm.audit_actions import AuditAction
from crm.errors import BusinessError, Conflict, NotFound
from customers.models import Customer, CustomerLevel
from membership.audit_actions import MembershipAuditAction
from membership.models import (
    ChangeKind,
    LevelChange,
    Membership,
    MembershipLevel,
    MembershipStatus,
    TierGrace,
)
from membership.services.locking import lock_customer

CHOICES_CACHE_KEY = "membership:level-choices:{language}"


class TierInUse(Conflict):
    code = "tier_in_use"


def level_choices() -> list[tuple[str, str]]:
    """[(code, name)] from the lowest tier to the highest, in the active language; registered
    as the choices of Customer.level. Cached until a tier changes."""
    key = CHOICES_CACHE_KEY.format(language=get_language() or "")
    choices = cache.get(key)
    if choices is None:
        try:
            with transaction.atomic():
                levels = list(
                    MembershipLevel.objects.order_by("sort_order").only("code", "name", "name_en")
                )
        except DatabaseError:
            levels = []  # before the first migration: system checks read the choices too
        if not levels:
            # No tier configured yet (or the table is not there): the spec's four codes.
            return list(CustomerLevel.choices)
        choices = [(level.code, level.display_name) for level in levels]
        cache.set(key, choices, timeout=None)
    return choices


def forget_level_choices() -> None:
    cache.delete_many(
        [CHOICES_CACHE_KEY.format(language=code) for code, _name in settings.LANGUAGES]
        + [CHOICES_CACHE_KEY.format(language="")]
    )


def level_by_code(code: str) -> MembershipLevel:
    try:
        return MembershipLevel.objects.get(code=code)
    except MembershipLevel.DoesNotExist:
        raise NotFound(_("No tier with this code.")) from None


def save_level(*, level: MembershipLevel, actor) -> MembershipLevel:
    """Create or update a tier. A tier's code is on its customers, so it cannot change while
    any customer holds it."""
    with transaction.atomic():
        if level.pk:
            old_code = MembershipLevel.objects.values_list("code", flat=True).get(pk=level.pk)
            if old_code != level.code and Customer.objects.filter(level=old_code).exists():
                raise TierInUse(
                    _("Customers hold this tier, so its code cannot change."),
                    fields={"code": [_("In use by customers.")]},
                )
        created = level.pk is None
        level.full_clean()
        target = level.downgrade_to
        if target is not None and target.sort_order >= level.sort_order:
            raise BusinessError(
                _("A downgrade goes to a lower tier; choose one ranked below this one."),
                fields={"downgradeTo": [_("Not below this tier.")]},
            )
        level.save()
        record_event(
            action=AuditAction.CREATE if created else AuditAction.UPDATE, actor=actor, obj=level
        )
        transaction.on_commit(forget_level_choices)
    return level


def delete_level(*, level: MembershipLevel, actor) -> None:
    """Delete a tier nobody holds (spec: deleting a tier that has members is refused)."""
    with transaction.atomic():
        holders = Customer.objects.filter(level=level.code).count()
        members = Membership.objects.filter(level=level, status=MembershipStatus.ACTIVE).count()
        if holders or members:
            raise TierInUse(
                _(
                    "%(customers)s customers and %(members)s active memberships are in this "
                    "tier; move them to another tier before deleting it."
                )
                % {"customers": holders, "members": members}
            )
        record_event(action=AuditAction.DELETE, actor=actor, obj=level)
        try:
            level.delete()
        except ProtectedError:
            # Past memberships and uses of its benefits keep their records of the tier.
            raise TierInUse(
                _(
                    "Past memberships or uses of its benefits refer to this tier, and their "
                    "records are kept; the tier cannot be deleted."
                )
            ) from None
        transaction.on_commit(forget_level_choices)


def change_level(*, customer_id: int, level_code: str, reason: str, actor) -> LevelChange:
    """Set a customer's tier by hand. The tier holds until the rules say otherwise (the next
    upgrade, or a downgrade after the grace period); to guarantee a tier for a period, enrol a
    membership instead."""
    if not reason.strip():
        raise BusinessError(
            _("Say why the tier changes."), fields={"reason": [_("This field is required.")]}
        )
    level = level_by_code(level_code)
    with transaction.atomic():
        customer = lock_customer(customer_id, "level", "customer_no")
        if customer.level == level.code:
            raise BusinessError(
                _("The customer is already in this tier."),
                fields={"levelId": [_("Choose another tier.")]},
            )
        change = set_level(
            customer=customer,
            level_code=level.code,
            kind=ChangeKind.MANUAL,
            reason=reason,
            actor=actor,
        )
        record_event(
            action=MembershipAuditAction.LEVEL_CHANGE,
            actor=actor,
            obj=customer,
            summary={"from": change.from_level, "to": change.to_level, "reason": reason},
        )
    return change


def set_level(*, customer: Customer, level_code: str, kind: str, reason: str, actor=None):
    """Write a locked customer's new tier and its LevelChange; the grace period ends."""
    return set_levels(
        customers=[customer], level_code=level_code, kind=kind, reason=reason, actor=actor
    )[0]


def swap_levels(swaps: list[tuple[int, str, str]]) -> set[int]:
    """Set each customer's level from `old` to `new` ([(customer id, old, new)]) where it is still
    `old`: a concurrent change wins, and is kept. One UPDATE for any number of customers (the
    nightly run over every customer). Returns the ids changed; the caller records LevelChanges."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE customers_customer c SET level = v.new
            FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, old, new)
            WHERE c.id = v.id AND c.level = v.old
            RETURNING c.id
            """,
            [[s[0] for s in swaps], [s[1] for s in swaps], [s[2] for s in swaps]],
        )
        return {row[0] for row in cursor.fetchall()}


def set_levels(*, customers: list[Customer], level_code: str, kind: str, reason: str, actor=None):
    """set_level for many locked customers at once: three statements, whatever their number."""
    actor = actor if actor is not None and actor.is_authenticated else None
    changes = LevelChange.objects.bulk_create(
        LevelChange(
            customer=customer,
            from_level=customer.level,
            to_level=level_code,
            kind=kind,
            reason=reason[:500],
            actor=actor,
        )
        for customer in customers
    )
    ids = [customer.pk for customer in customers]
    Customer.objects.filter(pk__in=ids).update(level=level_code)
    TierGrace.objects.filter(customer_id__in=ids).delete()
    for customer in customers:
        customer.level = level_code
    return changes
