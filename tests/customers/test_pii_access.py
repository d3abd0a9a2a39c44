"""Each reveal of a customer's phone or e-mail is audited under one spelling of where it
happened, on every screen and endpoint."""

import pytest

from crm.models import AuditEvent
from customers.pii_access import RevealContext, record_reveal

pytestmark = pytest.mark.django_db


def test_the_api_list_and_the_admin_list_audit_their_reveals_in_one_spelling(
    api_client, client, manager, make_customer
):
    make_customer(phone="13800138000")
    api_client(manager).get("/api/v1/customers")
    client.force_login(manager)
    client.get("/admin/customers/customer/")

    contexts = AuditEvent.objects.filter(action="reveal_pii").values_list(
        "summary__context", flat=True
    )
    assert sorted(contexts) == ["admin_list", "customer_list"]


def test_a_reveal_in_an_unknown_context_is_refused(manager, make_customer):
    customer = make_customer()

    with pytest.raises(ValueError):
        record_reveal(actor=manager, customers=[customer], context="customer list")

    assert not AuditEvent.objects.filter(action="reveal_pii").exists()
    assert {context.value for context in RevealContext} >= {"admin_list", "customer_list"}
