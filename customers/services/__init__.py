"""The business actions of the core: everything that writes customers, their addresses, notes,
tags, orders and communication records. Each is a function with keyword arguments, one
transaction, and the history and audit event it owes; the API, the admin, imports, commands and
other apps call these, so a rule lives in one place.

By subdomain: records (create, update), batch (batch edit), archive (archive, erase), addresses
(addresses and notes), tags, customer_tags (one customer's tags), orders (record_order,
refund_order), communications (records and follow-ups), fields (the normalising of phone,
e-mail, customer number). The names below are the public ones, importable from
`customers.services` (DESIGN.md: `customers.services.record_order`).
"""

from customers.services.addresses import (
    address_add,
    address_delete,
    address_update,
    note_add,
    note_delete,
)
from customers.services.archive import customer_archive, customer_erase
from customers.services.batch import customers_batch_update
from customers.services.customer_tags import customer_tags_add, customer_tags_remove
from customers.services.orders import RecordedOrder, record_order, refund_order
from customers.services.records import (
    CHANGE_PERMISSION,
    TAG_PERMISSION,
    UPDATABLE_FIELDS,
    DuplicateCustomerNo,
    DuplicateEmail,
    DuplicatePhone,
    VerificationFailed,
    customer_create,
    customer_update,
)
from customers.services.tags import tags_get_or_create

__all__ = [
    "CHANGE_PERMISSION",
    "TAG_PERMISSION",
    "UPDATABLE_FIELDS",
    "DuplicateCustomerNo",
    "DuplicateEmail",
    "DuplicatePhone",
    "RecordedOrder",
    "VerificationFailed",
    "address_add",
    "address_delete",
    "address_update",
    "customer_archive",
    "customer_create",
    "customer_erase",
    "customer_tags_add",
    "customer_tags_remove",
    "customer_update",
    "customers_batch_update",
    "note_add",
    "note_delete",
    "record_order",
    "refund_order",
    "tags_get_or_create",
]
