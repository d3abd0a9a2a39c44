"""Creating and changing one customer record. Each action is one transaction and writes its
history and audit event; the API, the admin, imports and commands all call these."""

from collections.abc import Iterable
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event, record_refusal
from crm.auth import lockout
from crm.encryption import blind_index_match
from crm.errors import BusinessError, Conflict, NotAllowed, violated_constraint
from crm.request_context import current_ip
from customers.models import (
    Customer,
    CustomerStatus,
)
from customers.services.addresses import address_add, note_add
from customers.services.fields import clean_customer_no, clean_email, clean_phone
from customers.services.tags import tags_get_or_create

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
# Written by Customer.save from the values they index; full_clean leaves them (and the number
# the database generates) alone.
SEARCH_COLUMNS = [
    "customer_no",
    "phone_index",
    "phone_index_next",
    "email_index",
    "email_index_next",
    "phone_last4",
]

CHANGE_PERMISSION = "customers.change_customer"
TAG_PERMISSION = "customers.tag_customer"


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
    "customers_customer_phone_index_next_key": DuplicatePhone,
    "customers_customer_email_index_next_key": DuplicateEmail,
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
        phone=clean_phone(phone),
        email=clean_email(email),
        gender=gender,
        birthday=birthday,
        avatar=avatar or "",
        source=source,
        register_date=register_date or timezone.localdate(),
    )
    if customer_no:
        customer.customer_no = clean_customer_no(customer_no)
    customer.full_clean(exclude=SEARCH_COLUMNS)
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
        changes["phone"] = clean_phone(changes["phone"])
    if "email" in changes:
        changes["email"] = clean_email(changes["email"])
    if customer.erased_at:
        raise BusinessError(
            _("This customer was erased for a privacy request and cannot be edited.")
        )
    changed = {name for name, value in changes.items() if getattr(customer, name) != value}
    check_may_edit(actor, changed)
    if "status" in changed:
        check_status_change(actor, changes["status"])
    if changed & VERIFIED_FIELDS:
        _verify(actor, verification_password, customer=customer)
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        changed = {name for name in changed if getattr(customer, name) != changes[name]}
        for name in changed:
            setattr(customer, name, changes[name])
        customer.full_clean(exclude=SEARCH_COLUMNS)
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


def _replace_tags(customer: Customer, names: Iterable[str], actor) -> bool:
    wanted_names = {name.strip() for name in names if name and name.strip()}
    if set(customer.tags.values_list("name", flat=True)) == wanted_names:
        return False
    check_may_tag(actor)
    customer.tags.set(tags_get_or_create(wanted_names, actor=actor))
    return True


def check_may_edit(actor, fields: set[str]) -> None:
    """Profile fields need the change permission; the tag permission (marketing) is not enough."""
    if fields and actor is not None and not actor.has_perm(CHANGE_PERMISSION):
        raise NotAllowed(
            _("You may change only the tags of a customer, not: %s.") % ", ".join(sorted(fields))
        )


def check_may_tag(actor) -> None:
    if actor is not None and not (
        actor.has_perm(CHANGE_PERMISSION) or actor.has_perm(TAG_PERMISSION)
    ):
        raise NotAllowed(_("You may not change the tags of customers."))


def _check_unique(customer: Customer) -> None:
    """Clear 409s for the common case; _save_unique covers the race between two requests."""
    customer.refresh_search_columns()
    others = Customer.objects.exclude(pk=customer.pk)
    # The hashes refresh_search_columns just computed: a blind index costs an HMAC each time.
    for column, error in (("phone_index", DuplicatePhone), ("email_index", DuplicateEmail)):
        hashes = [h for h in (getattr(customer, column), getattr(customer, f"{column}_next")) if h]
        if hashes and others.filter(blind_index_match(column, hashes)).exists():
            raise error()
    # An unset number is still a DatabaseDefault here: the database generates it on insert.
    chosen_no = customer.customer_no if isinstance(customer.customer_no, str) else None
    if customer._state.adding and chosen_no and others.filter(customer_no=chosen_no).exists():
        raise DuplicateCustomerNo()


def _columns_written(changed: set[str]) -> list[str]:
    """The changed fields plus the search columns derived from them (Customer.save)."""
    derived = {
        "name": ["name_grams"],
        "phone": ["phone_index", "phone_index_next", "phone_last4"],
        "email": ["email_index", "email_index_next"],
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


def check_status_change(actor, status: str) -> None:
    """Archiving is the staff's delete, so it needs the delete permission."""
    if (
        status == CustomerStatus.ARCHIVED
        and actor is not None
        and not actor.has_perm("customers.delete_customer")
    ):
        raise NotAllowed(_("Archiving a customer needs the permission to delete customers."))


def _verify(actor, password: str | None, *, customer: Customer) -> None:
    """The actor's own password, under the same lockout as the login page, so that a stolen
    session cannot guess it. A missing password is an incomplete request, not a guess: only a
    wrong one counts towards the lockout and is audited as a failed login."""
    if actor is None or not password:
        raise VerificationFailed()
    username, ip = actor.get_username(), current_ip()
    locked = lockout.is_locked(username=username, ip=ip)
    if not locked and actor.check_password(password):
        return
    if not locked:
        lockout.record_failure(username=username, ip=ip)
    record_refusal(
        action="login_failure", actor=actor, obj=customer, summary={"context": "verification"}
    )
    raise VerificationFailed()
