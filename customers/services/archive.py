"""The ends of a customer record: archived (the staff's "delete", undone by an edit) and erased
(a privacy request: the person can no longer be identified)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event
from crm.models import AuditEvent
from customers import hooks
from customers.models import (
    Address,
    Customer,
    CustomerStatus,
)


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

    Order totals stay (they are the restaurant's figures), and so do the communications, as
    the staff's record of work, with what was said blanked; the person can no longer be
    identified. Export files that hold them expire with EXPORT_FILE_RETENTION_DAYS.
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
        customer.communications.update(content="", result="")
        hooks.run_erasure_hooks(customer=customer)
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
