"""Who sees a customer's phone and e-mail unmasked, and the audit trail of each reveal."""

from crm.audit import record_event
from crm.pii import display_phone, mask_email, mask_phone

REVEAL_PERMISSION = "customers.reveal_customer_pii"


def can_reveal(user) -> bool:
    return bool(user and user.has_perm(REVEAL_PERMISSION))


def shown_phone(phone: str | None, *, reveal: bool) -> str | None:
    if not phone:
        return phone
    national = display_phone(phone)
    return national if reveal else mask_phone(national)


def shown_email(email: str | None, *, reveal: bool) -> str | None:
    if not email:
        return email
    return email if reveal else mask_email(email)


def record_reveal(*, actor, customers, context: str) -> None:
    """One audit event per response that carried unmasked PII, naming every customer in it."""
    revealed = [customer for customer in customers if customer.phone or customer.email]
    if not revealed:
        return
    if len(revealed) == 1:
        record_event(
            action="reveal_pii", actor=actor, obj=revealed[0], summary={"context": context}
        )
    else:
        record_event(
            action="reveal_pii",
            actor=actor,
            object_type="customers.customer",
            summary={"context": context, "customerIds": [str(c.pk) for c in revealed]},
        )
