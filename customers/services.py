"""Business actions on customer records. Each is one transaction and writes its history and audit.

Views, the admin, imports and commands all call these, so a rule lives in one place.
"""

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event, record_refusal
from crm.auth import lockout
from crm.errors import BusinessError, Conflict, NotAllowed, violated_constraint
from crm.models import AuditEvent
from crm.pii import normalize_email, normalize_phone
from crm.request_context import current_ip
from customers.models import (
    GENERATED_CUSTOMER_NO,
    Address,
    Customer,
    CustomerNote,
    CustomerStatus,
    CustomerTag,
    Tag,
)

# Fields a create or update may set; the rest are owned by other services (DESIGN.md: level and
# points by membership, order totals by order recording, status changes by churn or staff).
PROFILE_FIELDS = [
    "name",
    "phone",
    "email",
    "gender",
    "birthday",
    "avatar",
    "source",
    "register_date",
]
UPDATABLE_FIELDS = [*PROFILE_FIELDS, "status"]
VERIFIED_FIELDS = {"phone", "email"}
BATCH_FIELDS = {"status", "source"}
BATCH_LIMIT = 10_000


class DuplicatePhone(Conflict):
    code = "duplicate_phone"

    def __init__(self):
        message = _("A customer with this phone number already exists.")
        super().__init__(message, fields={"phone": [str(message)]})


class DuplicateEmail(Conflict):
    code = "duplicate_email"

    def __init__(self):
        message = _("A customer with this e-mail address already exists.")
        super().__init__(message, fields={"email": [str(message)]})


class DuplicateCustomerNo(Conflict):
    code = "duplicate_customer_no"

    def __init__(self):
        message = _("This customer number is already taken; choose another one.")
        super().__init__(message, fields={"customerNo": [str(message)]})


class VerificationFailed(NotAllowed):
    code = "verification_failed"
    default_message = _(
        "Changing a phone number or e-mail needs re-verification: send your own password as "
        '"verification": {"password": "..."}.'
    )


UNIQUE_ERRORS = {
    "customers_customer_phone_index_key": DuplicatePhone,
    "customers_customer_email_index_key": DuplicateEmail,
    "customers_customer_customer_no_key": DuplicateCustomerNo,
}


def customer_create(
    *,
    actor,
    name: str,
    phone: str,
    email: str | None = None,
    gender: str = "unknown",
    birthday: date | None = None,
    avatar: str = "",
    source: str = "other",
    register_date: date | None = None,
    customer_no: str | None = None,
    tags: Iterable[str] = (),
    addresses: Iterable[dict] = (),
    note: str = "",
    reason: str = "",
) -> Customer:
    """Create a customer. Phone is required and unique, e-mail unique; both are normalised.

    Raises ValidationError for bad values and DuplicatePhone/DuplicateEmail/DuplicateCustomerNo.
    """
    customer = Customer(
        name=name,
        phone=_clean_phone(phone),
        email=_clean_email(email),
        gender=gender,
        birthday=birthday,
        avatar=avatar or "",
        source=source,
        register_date=register_date or timezone.localdate(),
    )
    if customer_no:
        customer.customer_no = _clean_customer_no(customer_no)
    customer.full_clean(exclude=["customer_no", "phone_index", "email_index", "phone_last4"])
    with transaction.atomic():
        _check_unique(customer)
        customer._history_user = actor
        customer._change_reason = reason or str(_("Created"))
        _save_unique(customer)
        if tags:
            # Through the relation, so the tags are in the customer's history too.
            customer.tags.add(*tags_get_or_create(tags, actor=actor))
        for address in addresses:
            address_add(customer=customer, actor=actor, **address)
        if note:
            note_add(customer=customer, actor=actor, body=note)
        record_event(action="create", actor=actor, obj=customer, summary={"source": source})
    return customer


def customer_update(
    *,
    customer: Customer,
    actor,
    changes: dict,
    tags: Iterable[str] | None = None,
    verification_password: str | None = None,
    reason: str = "",
) -> Customer:
    """Change profile fields or the status (UPDATABLE_FIELDS) and, when given, replace the tags.

    The row is locked and re-read, and only the changed columns are written, so a concurrent
    order's totals are never overwritten. Changing phone or e-mail needs the actor's own password
    (spec 2.1.2, 敏感信息修改需要验证): without it, or with a wrong one, the attempt is audited,
    VerificationFailed is raised and nothing changes. Returns the updated customer.
    """
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise BusinessError(
            _("These fields cannot be changed here: %s.") % ", ".join(sorted(unknown))
        )
    changes = dict(changes)
    if "phone" in changes:
        changes["phone"] = _clean_phone(changes["phone"])
    if "email" in changes:
        changes["email"] = _clean_email(changes["email"])
    if customer.erased_at:
        raise BusinessError(
            _("This customer was erased for a privacy request and cannot be edited.")
        )
    changed = {name for name, value in changes.items() if getattr(customer, name) != value}
    if "status" in changed:
        _check_status_change(actor, changes["status"])
    if changed & VERIFIED_FIELDS and not _verified(actor, verification_password):
        record_refusal(
            action="login_failure", actor=actor, obj=customer, summary={"context": "verification"}
        )
        raise VerificationFailed()
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        changed = {name for name in changed if getattr(customer, name) != changes[name]}
        for name in changed:
            setattr(customer, name, changes[name])
        customer.full_clean(exclude=["customer_no", "phone_index", "email_index", "phone_last4"])
        if changed & {"phone", "email"}:
            _check_unique(customer)
        if changed:
            customer._history_user = actor
            customer._change_reason = reason or str(_("Edited"))
            _save_unique(customer, update_fields=_columns_written(changed))
        tags_changed = tags is not None and _replace_tags(customer, tags, actor)
        if changed or tags_changed:
            summary = {"fields": sorted(changed | ({"tags"} if tags_changed else set()))}
            record_event(action="update", actor=actor, obj=customer, summary=summary)
    return customer


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
    for name, value in set_fields.items():
        Customer._meta.get_field(name).clean(value, None)
    if "status" in set_fields:
        _check_status_change(actor, set_fields["status"])
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


def customer_archive(*, customer: Customer, actor, reason: str = "") -> Customer:
    """Staff "delete": the record stays, with status archived, and can be restored by an edit."""
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        customer.status = CustomerStatus.ARCHIVED
        customer._history_user = actor
        customer._change_reason = reason or str(_("Archived"))
        customer.save(update_fields=["status", "updated_at"])
        record_event(action="delete", actor=actor, obj=customer, summary={"reason": reason})
    return customer


def customer_erase(*, customer: Customer, actor, reason: str) -> Customer:
    """Anonymise a customer's personal data for a privacy request, in the record and its history.

    Order totals stay (they are the restaurant's figures); the person can no longer be identified.
    """
    if not reason.strip():
        raise ValidationError({"reason": [_("Say why the customer is erased.")]})
    with transaction.atomic():
        customer.name = str(_("Erased customer"))
        customer.phone = None
        customer.email = None
        customer.birthday = None
        customer.avatar = ""
        customer.gender = "unknown"
        customer.status = CustomerStatus.ARCHIVED
        customer.erased_at = timezone.now()
        customer._history_user = actor
        customer._change_reason = None
        customer.save()
        customer.addresses.all().delete()
        customer.notes.all().delete()
        customer.history.all().update(
            name=customer.name,
            phone=None,
            email=None,
            phone_index=None,
            email_index=None,
            phone_last4="",
            birthday=None,
            avatar="",
            gender="unknown",
            history_change_reason=None,
        )
        Address.history.filter(customer_id=customer.pk).delete()
        AuditEvent.objects.filter(
            object_type="customers.customer", object_id=str(customer.pk)
        ).update(object_repr=str(customer))
        record_event(action="erase", actor=actor, obj=customer, summary={"reason": reason})
    return customer


def address_add(*, customer: Customer, actor, is_default: bool = False, **fields) -> Address:
    """Add an address; the first one, or one marked default, becomes the only default."""
    address = Address(customer=customer, **_clean_address_fields(fields))
    address.full_clean(exclude=["customer", "is_default"])
    with transaction.atomic():
        has_default = customer.addresses.filter(is_default=True).exists()
        address.is_default = is_default or not has_default
        if address.is_default and has_default:
            _clear_default(customer, actor)
        address._history_user = actor
        address.save()
        record_event(action="create", actor=actor, obj=address, summary={"customerId": customer.pk})
    return address


def address_update(*, address: Address, actor, changes: dict) -> Address:
    """Change an address. Marking it default makes it the only default; the default address
    cannot be un-defaulted (mark another one default instead). A change that changes nothing
    writes nothing (no history record, no audit event)."""
    changes = _clean_address_fields(dict(changes))
    make_default = changes.pop("is_default", None)
    with transaction.atomic():
        # The stored row decides, not the caller's copy (a form may have changed it already).
        address = Address.objects.select_for_update().get(pk=address.pk)
        if make_default is False and address.is_default:
            raise ValidationError({"is_default": [_("Mark another address as default instead.")]})
        becomes_default = bool(make_default) and not address.is_default
        if not becomes_default and all(getattr(address, k) == v for k, v in changes.items()):
            return address
        for name, value in changes.items():
            setattr(address, name, value)
        address.full_clean(exclude=["customer"])
        if becomes_default:
            _clear_default(address.customer, actor)
            address.is_default = True
        address._history_user = actor
        address.save()
        record_event(action="update", actor=actor, obj=address, summary={"fields": sorted(changes)})
    return address


def address_delete(*, address: Address, actor) -> None:
    """Delete an address; when it was the default, the oldest remaining one becomes default."""
    with transaction.atomic():
        customer = address.customer
        record_event(action="delete", actor=actor, obj=address, summary={"customerId": customer.pk})
        address._history_user = actor
        was_default = address.is_default
        address.delete()
        successor = customer.addresses.order_by("id").first()
        if was_default and successor is not None:
            successor.is_default = True
            successor._history_user = actor
            successor.save(update_fields=["is_default"])


def note_add(*, customer: Customer, actor, body: str) -> CustomerNote:
    """A staff note on the customer (spec 2.1.1 备注信息)."""
    if not body.strip():
        raise ValidationError({"body": [_("Write the note.")]})
    with transaction.atomic():
        note = CustomerNote.objects.create(customer=customer, body=body.strip(), author=actor)
        record_event(action="create", actor=actor, obj=note, summary={"customerId": customer.pk})
    return note


def note_delete(*, note: CustomerNote, actor) -> None:
    """Delete a staff note (a privacy request, a note on the wrong customer)."""
    with transaction.atomic():
        record_event(
            action="delete", actor=actor, obj=note, summary={"customerId": note.customer_id}
        )
        note.delete()


def _clean_address_fields(fields: dict) -> dict:
    if fields.get("phone"):
        fields["phone"] = _clean_phone(fields["phone"])
    return fields


def _clear_default(customer: Customer, actor) -> None:
    for old in customer.addresses.select_for_update().filter(is_default=True):
        old.is_default = False
        old._history_user = actor
        old.save(update_fields=["is_default"])


def tags_get_or_create(names: Iterable[str], *, actor=None) -> list[Tag]:
    """The tags with these names; missing ones are created as manual tags, which needs the
    permission to add tags (`actor=None` is the system itself, e.g. an import)."""
    cleaned = sorted({name.strip() for name in names if name and name.strip()})
    for name in cleaned:
        if len(name) > Tag._meta.get_field("name").max_length:
            raise ValidationError({"tags": [_("A tag name has at most 50 characters.")]})
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=cleaned)}
    missing = [name for name in cleaned if name not in existing]
    if missing and actor is not None and not actor.has_perm("customers.add_tag"):
        raise NotAllowed(
            _("These tags do not exist and you may not create tags: %s.") % ", ".join(missing)
        )
    for name in cleaned:
        if name not in existing:
            existing[name], _created = Tag.objects.get_or_create(name=name)
    return [existing[name] for name in cleaned]


def _apply_batch(customers: list[Customer], *, set_fields, added, removed) -> list[Customer]:
    """Set-based: one UPDATE for the fields, one INSERT and one DELETE for the tags, whatever
    the number of customers. Returns the customers that changed."""
    ids = [customer.pk for customer in customers]
    tags_of = defaultdict(set)
    for customer_id, tag_id in CustomerTag.objects.filter(customer_id__in=ids).values_list(
        "customer_id", "tag_id"
    ):
        tags_of[customer_id].add(tag_id)
    now = timezone.now()
    changed, links = [], []
    for customer in customers:
        fields = [name for name, value in set_fields.items() if getattr(customer, name) != value]
        to_add = [tag for tag in added if tag.pk not in tags_of[customer.pk]]
        to_remove = {tag.pk for tag in removed} & tags_of[customer.pk]
        if not (fields or to_add or to_remove):
            continue
        for name in fields:
            setattr(customer, name, set_fields[name])
        customer.updated_at = now
        changed.append(customer)
        links += [CustomerTag(customer=customer, tag=tag) for tag in to_add]
    changed_ids = [customer.pk for customer in changed]
    Customer.objects.bulk_update(changed, [*set_fields, "updated_at"], batch_size=1000)
    CustomerTag.objects.bulk_create(links, batch_size=1000)
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
            )
            for link in CustomerTag.objects.filter(customer_id__in=record_of)
        ],
        batch_size=1000,
    )


def _replace_tags(customer: Customer, names: Iterable[str], actor) -> bool:
    wanted = {tag.pk: tag for tag in tags_get_or_create(names, actor=actor)}
    current = set(customer.tags.values_list("pk", flat=True))
    if current == set(wanted):
        return False
    customer.tags.set(list(wanted.values()))
    return True


def _clean_phone(phone: str) -> str:
    try:
        return normalize_phone(phone)
    except ValidationError as error:
        raise ValidationError({"phone": error.messages}) from None


def _clean_email(email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    try:
        return normalize_email(email)
    except ValidationError as error:
        raise ValidationError({"email": error.messages}) from None


def _clean_customer_no(customer_no: str) -> str:
    customer_no = customer_no.strip()
    if re.match(GENERATED_CUSTOMER_NO, customer_no):
        raise ValidationError(
            {"customerNo": [_("Numbers like C00001 are generated; choose another format.")]}
        )
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$", customer_no):
        raise ValidationError({"customerNo": [_("Use up to 32 letters, digits, '-' or '_'.")]})
    return customer_no


def _check_unique(customer: Customer) -> None:
    """Clear 409s for the common case; _save_unique covers the race between two requests."""
    customer.refresh_search_columns()
    others = Customer.objects.exclude(pk=customer.pk)
    if customer.phone_index and others.filter(phone_index=customer.phone_index).exists():
        raise DuplicatePhone()
    if customer.email_index and others.filter(email_index=customer.email_index).exists():
        raise DuplicateEmail()
    # An unset number is still a DatabaseDefault here: the database generates it on insert.
    chosen_no = customer.customer_no if isinstance(customer.customer_no, str) else None
    if customer._state.adding and chosen_no and others.filter(customer_no=chosen_no).exists():
        raise DuplicateCustomerNo()


def _columns_written(changed: set[str]) -> list[str]:
    """The changed fields plus the search columns derived from them (Customer.save)."""
    derived = {
        "name": ["name_grams"],
        "phone": ["phone_index", "phone_last4"],
        "email": ["email_index"],
    }
    return sorted({*changed, "updated_at", *(c for f in changed for c in derived.get(f, []))})


def _save_unique(customer: Customer, update_fields=None) -> None:
    try:
        with transaction.atomic():
            customer.save(update_fields=update_fields)
    except IntegrityError as error:
        constraint = violated_constraint(error)
        if constraint in UNIQUE_ERRORS:
            raise UNIQUE_ERRORS[constraint]() from None
        raise


def _check_status_change(actor, status: str) -> None:
    """Archiving is the staff's delete, so it needs the delete permission."""
    if (
        status == CustomerStatus.ARCHIVED
        and actor is not None
        and not actor.has_perm("customers.delete_customer")
    ):
        raise NotAllowed(_("Archiving a customer needs the permission to delete customers."))


def _verified(actor, password: str | None) -> bool:
    """The actor's own password, under the same lockout as the login page, so that a stolen
    session cannot guess it."""
    if actor is None:
        return False
    ip = current_ip()
    if lockout.is_locked(username=actor.get_username(), ip=ip):
        return False
    if password and actor.check_password(password):
        return True
    lockout.record_failure(username=actor.get_username(), ip=ip)
    return False
