"""Addresses and notes after creation: one default address at all times, notes, permissions."""

import pytest

from crm.models import AuditEvent
from customers.models import Address

pytestmark = pytest.mark.django_db


def url(customer, *rest):
    return "/".join([f"/api/v1/customers/{customer.pk}", *map(str, rest)])


def defaults(customer):
    return list(customer.addresses.filter(is_default=True).values_list("detail", flat=True))


def test_first_address_is_default_and_a_new_default_replaces_it(api_client, manager, make_customer):
    customer = make_customer()
    client = api_client(manager)
    first = client.post(url(customer, "addresses"), {"detail": "建国路1号"}, format="json")
    assert first.status_code == 201, first.json()
    assert first.json()["data"]["isDefault"] is True
    second = client.post(
        url(customer, "addresses"), {"detail": "人民路2号", "isDefault": True}, format="json"
    )
    assert second.json()["data"]["isDefault"] is True
    assert defaults(customer) == ["人民路2号"]
    assert AuditEvent.objects.filter(action="create", object_type="customers.address").count() == 2


def test_patch_makes_default_and_refuses_to_leave_none(api_client, manager, make_customer):
    customer = make_customer(addresses=[{"detail": "建国路1号"}, {"detail": "人民路2号"}])
    _first, second = customer.addresses.order_by("id")
    client = api_client(manager)
    made = client.patch(url(customer, "addresses", second.pk), {"isDefault": True}, format="json")
    assert made.status_code == 200
    assert defaults(customer) == ["人民路2号"]
    refused = client.patch(
        url(customer, "addresses", second.pk), {"isDefault": False}, format="json"
    )
    assert refused.status_code == 400
    assert "isDefault" in refused.json()["error"]["fields"]
    assert defaults(customer) == ["人民路2号"]


def test_deleting_the_default_promotes_the_oldest_other(api_client, manager, make_customer):
    customer = make_customer(
        addresses=[{"detail": "甲", "is_default": False}, {"detail": "乙"}, {"detail": "丙"}]
    )
    default = customer.addresses.get(is_default=True)
    client = api_client(manager)
    assert client.delete(url(customer, "addresses", default.pk)).status_code == 204
    remaining = list(customer.addresses.order_by("id").values_list("detail", "is_default"))
    assert sum(is_default for _detail, is_default in remaining) == 1
    assert remaining[0][1] is True


def test_address_of_another_customer_is_404(api_client, manager, make_customer):
    owner, other = make_customer(addresses=[{"detail": "甲"}]), make_customer()
    address = owner.addresses.get()
    response = api_client(manager).patch(
        url(other, "addresses", address.pk), {"label": "x"}, format="json"
    )
    assert response.status_code == 404
    assert Address.objects.get(pk=address.pk).label == ""


def test_notes_are_added_listed_and_need_permission(api_client, manager, make_user, make_customer):
    customer = make_customer()
    client = api_client(manager)
    created = client.post(url(customer, "notes"), {"body": "喜欢靠窗"}, format="json")
    assert created.status_code == 201
    assert created.json()["data"]["author"] == "manager"
    items = client.get(url(customer, "notes")).json()["data"]["items"]
    assert [item["body"] for item in items] == ["喜欢靠窗"]
    assert client.post(url(customer, "notes"), {"body": "  "}, format="json").status_code == 400
    finance = api_client(make_user("fin", roles=["finance"]))
    assert finance.get(url(customer, "notes")).status_code == 403
    assert (
        finance.post(url(customer, "addresses"), {"detail": "x"}, format="json").status_code == 403
    )


def test_note_audit_keeps_the_text_out(api_client, manager, make_customer):
    customer = make_customer()
    api_client(manager).post(url(customer, "notes"), {"body": "电话13800138000"}, format="json")
    event = AuditEvent.objects.get(action="create", object_type="customers.customernote")
    assert "13800138000" not in event.object_repr


def test_the_api_masks_an_address_for_staff_who_may_not_reveal(
    api_client, make_user, make_customer
):
    customer = make_customer()
    body = {"recipient": "张三", "phone": "13800138000", "detail": "建国路1号"}
    operations = api_client(make_user("ops", roles=["operations"]))
    desk = api_client(make_user("desk", roles=["customer_service"]))

    added = operations.post(url(customer, "addresses"), body, format="json").json()["data"]
    shown = desk.get(url(customer)).json()["data"]["addresses"][0]
    masked = operations.get(url(customer)).json()["data"]["addresses"][0]

    assert (added["detail"], added["phone"]) == ("****", "138****8000")
    assert (masked["detail"], masked["phone"]) == ("****", "138****8000")
    assert (shown["detail"], shown["phone"]) == ("建国路1号", "13800138000")
