"""A customer's addresses (one default at all times) and staff notes (spec 2.1.1 收货地址,
备注信息)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event
from customers.models import (
    Address,
    Customer,
    CustomerNote,
)
from customers.services.fields import clean_phone


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
        fields["phone"] = clean_phone(fields["phone"])
    return fields


def _clear_default(customer: Customer, actor) -> None:
    for old in customer.addresses.select_for_update().filter(is_default=True):
        old.is_default = False
        old._history_user = actor
        old.save(update_fields=["is_default"])
