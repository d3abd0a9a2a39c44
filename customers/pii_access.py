"""Who sees a customer's phone and e-mail unmasked, and the audit trail of each reveal."""

from enum import StrEnum

from crm.audit import record_event
from crm.pii import display_phone, mask_email, mask_phone

REVEAL_PERMISSION = "customers.reveal_customer_pii"


class RevealContext(StrEnum):
    """Where unmasked phone or e-mail was shown: the `context` of a reveal_pii audit event, one
    spelling for every screen and endpoint."""

    API_LIST = "customer_list"
    API_DETAIL = "customer_detail"
    API_HISTORY = "customer_history"
    API_PDF = "customer_pdf"
    API_ADDRESS = "address"
    API_FOLLOW_UPS = "follow_ups"
    ADMIN_LIST = "admin_list"
    ADMIN_DETAIL = "admin_detail"
    ADMIN_HISTORY = "admin_history"
    ADMIN_ADDRESSES = "admin_addresses"


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


def reveal_rows(user, rows, *, context: RevealContext, customer_of=lambda row: row) -> None:
    """A list page's rows shown unmasked to a user who may see them: each row is marked
    `pii_revealed` and one audit event names their customers. Nothing for other users."""
    if not can_reveal(user):
        return
    for row in rows:
        row.pii_revealed = True
    customers = {customer_of(row).pk: customer_of(row) for row in rows}
    record_reveal(actor=user, customers=customers.values(), context=context)


def record_reveal(*, actor, customers, context: RevealContext) -> None:
    """One audit event per response that carried unmasked PII, naming every customer in it.
    Raises ValueError for a context that is not a RevealContext."""
    context = RevealContext(context).value
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
