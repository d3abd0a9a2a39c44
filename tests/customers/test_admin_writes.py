"""Every admin write goes through the service the API calls: the same change made on either
path leaves the same default address, the same audit events and the same history."""

import pytest
from django.contrib.messages import get_messages

from crm.models import AuditEvent
from customers import services
from customers.models import Address, Communication, Customer, CustomerNote
from customers.services import batch

pytestmark = pytest.mark.django_db


def api_url(customer, *rest):
    return "/".join([f"/api/v1/customers/{customer.pk}", *map(str, rest)])


def change_url(customer):
    return f"/admin/customers/customer/{customer.pk}/change/"


def page_data(client, url):
    """What the change page would post back unchanged: its form and every inline form."""
    response = client.get(url)
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context.get("inline_admin_formsets", []):
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        forms += formset.initial_forms
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            if isinstance(value, list | tuple):
                value = [getattr(item, "pk", item) for item in value]
            data[form.add_prefix(name)] = "on" if value is True else value
    data["_continue"] = "1"
    return data


def address_prefix(client, customer, address):
    response = client.get(change_url(customer))
    for inline in response.context["inline_admin_formsets"]:
        for form in inline.formset.initial_forms:
            if form.instance.pk == address.pk:
                return form.prefix
    raise AssertionError("address not on the page")


def outcome(customer):
    """What an address change leaves behind: the addresses with their default flag, and how
    many audit events and history records the addresses got."""
    addresses = list(customer.addresses.order_by("id").values_list("detail", "is_default"))
    ids = [
        str(pk)
        for pk in Address.history.filter(customer_id=customer.pk)
        .values_list("id", flat=True)
        .distinct()
    ]
    events = AuditEvent.objects.filter(object_type="customers.address", object_id__in=ids)
    history = Address.history.filter(customer_id=customer.pk).count()
    return addresses, events.values_list("action", flat=True).order_by("action").count(), history


def third_address(customer):
    return customer.addresses.order_by("id")[2]


def make_the_third_default_by_api(client, customer):
    third = third_address(customer)
    url = api_url(customer, "addresses", third.pk)
    assert client.patch(url, {"isDefault": True}, format="json").status_code == 200


def three_addresses(make_customer, name):
    return make_customer(
        name=name, addresses=[{"detail": "甲路1号"}, {"detail": "乙路2号"}, {"detail": "丙路3号"}]
    )


@pytest.fixture
def admin_client(client, manager):
    client.force_login(manager)
    return client


def test_deleting_the_default_address_inline_promotes_the_oldest_as_the_api_does(
    api_client, admin_client, manager, make_customer
):
    by_api, by_admin = (three_addresses(make_customer, name) for name in ("甲", "乙"))
    default = by_api.addresses.get(is_default=True)
    assert api_client(manager).delete(api_url(by_api, "addresses", default.pk)).status_code == 204

    default = by_admin.addresses.get(is_default=True)
    data = page_data(admin_client, change_url(by_admin))
    data[f"{address_prefix(admin_client, by_admin, default)}-DELETE"] = "on"
    response = admin_client.post(change_url(by_admin), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert outcome(by_admin) == outcome(by_api)
    assert by_admin.addresses.filter(is_default=True).values_list("detail", flat=True).get() == (
        "乙路2号"
    )


def test_an_address_added_inline_is_audited_once_as_by_the_api(
    api_client, admin_client, manager, make_customer
):
    by_api, by_admin = (three_addresses(make_customer, name) for name in ("甲", "乙"))
    body = {"detail": "丁路4号", "isDefault": True}
    assert (
        api_client(manager).post(api_url(by_api, "addresses"), body, format="json").status_code
        == 201
    )

    data = page_data(admin_client, change_url(by_admin))
    old = by_admin.addresses.get(is_default=True)
    data.pop(f"{address_prefix(admin_client, by_admin, old)}-is_default")
    index = data["addresses-TOTAL_FORMS"]
    data["addresses-TOTAL_FORMS"] = int(index) + 1
    data[f"addresses-{index}-customer"] = by_admin.pk
    data[f"addresses-{index}-detail"] = "丁路4号"
    data[f"addresses-{index}-is_default"] = "on"
    response = admin_client.post(change_url(by_admin), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert outcome(by_admin) == outcome(by_api)
    added = by_admin.addresses.order_by("id").last()
    assert AuditEvent.objects.filter(action="create", object_id=str(added.pk)).count() == 1


def test_moving_the_default_inline_clears_the_old_one_as_the_api_does(
    api_client, admin_client, manager, make_customer
):
    by_api, by_admin = (three_addresses(make_customer, name) for name in ("甲", "乙"))
    make_the_third_default_by_api(api_client(manager), by_api)

    data = page_data(admin_client, change_url(by_admin))
    old = by_admin.addresses.get(is_default=True)
    new = third_address(by_admin)
    data.pop(f"{address_prefix(admin_client, by_admin, old)}-is_default")
    data[f"{address_prefix(admin_client, by_admin, new)}-is_default"] = "on"
    response = admin_client.post(change_url(by_admin), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert outcome(by_admin) == outcome(by_api)


def test_unticking_the_only_default_inline_is_refused_on_the_form(admin_client, make_customer):
    customer = three_addresses(make_customer, "甲")
    default = customer.addresses.get(is_default=True)
    data = page_data(admin_client, change_url(customer))
    data.pop(f"{address_prefix(admin_client, customer, default)}-is_default")

    response = admin_client.post(change_url(customer), data, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert "Mark another address as default" in response.content.decode()
    assert customer.addresses.get(is_default=True) == default


def test_a_note_added_inline_is_audited_once_as_by_the_api(
    api_client, admin_client, manager, make_customer
):
    by_api, by_admin = make_customer(name="甲"), make_customer(name="乙")
    assert (
        api_client(manager)
        .post(api_url(by_api, "notes"), {"body": "喜欢靠窗"}, format="json")
        .status_code
        == 201
    )

    data = page_data(admin_client, change_url(by_admin))
    data["notes-0-body"] = "喜欢靠窗"
    data["notes-0-customer"] = by_admin.pk
    response = admin_client.post(change_url(by_admin), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    for customer in (by_api, by_admin):
        note = CustomerNote.objects.get(customer=customer)
        assert note.author.username == "manager"
        assert (
            AuditEvent.objects.filter(
                object_type="customers.customernote", object_id=str(note.pk)
            ).count()
            == 1
        )


def test_a_second_default_on_the_address_page_replaces_the_first_as_the_api_does(
    api_client, admin_client, manager, make_customer
):
    by_api, by_admin = (three_addresses(make_customer, name) for name in ("甲", "乙"))
    make_the_third_default_by_api(api_client(manager), by_api)

    third = third_address(by_admin)
    url = f"/admin/customers/address/{third.pk}/change/"
    data = page_data(admin_client, url)
    data["is_default"] = "on"
    data["_save"] = "Save"
    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert outcome(by_admin) == outcome(by_api)


def test_deleting_the_default_on_the_address_page_promotes_the_oldest(admin_client, make_customer):
    customer = three_addresses(make_customer, "甲")
    default = customer.addresses.get(is_default=True)

    response = admin_client.post(f"/admin/customers/address/{default.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert customer.addresses.get(is_default=True).detail == "乙路2号"
    assert AuditEvent.objects.filter(action="delete", object_id=str(default.pk)).count() == 1


def run_archive(client, customers):
    selection = {"action": "archive_selected", "_selected_action": [c.pk for c in customers]}
    return client.post("/admin/customers/customer/", selection, HTTP_ACCEPT_LANGUAGE="en")


def test_the_archive_action_archives_the_selection_as_the_batch_api_does(
    api_client, admin_client, manager, make_customer
):
    by_api = [make_customer(name="甲"), make_customer(name="乙")]
    by_admin = [make_customer(name="丙"), make_customer(name="丁")]
    body = {"ids": [c.pk for c in by_api], "set": {"status": "archived"}}
    response = api_client(manager).post("/api/v1/customers/batch-update", body, format="json")
    assert response.status_code == 200, response.json()

    run_archive(admin_client, by_admin)

    for api_customer, admin_customer in zip(by_api, by_admin, strict=True):
        api_customer.refresh_from_db()
        admin_customer.refresh_from_db()
        assert admin_customer.status == api_customer.status == "archived"
        assert admin_customer.history.count() == api_customer.history.count()


def test_the_archive_action_past_the_batch_limit_archives_none_and_says_why(
    admin_client, make_customer, monkeypatch
):
    monkeypatch.setattr(batch, "BATCH_LIMIT", 2)
    customers = [make_customer(name=name) for name in ("甲", "乙", "丙")]

    response = run_archive(admin_client, customers)

    assert not Customer.objects.filter(status="archived").exists()
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert any("at most 2 customers" in message for message in shown), shown


def test_a_communication_deleted_in_the_admin_is_audited_once(admin_client, make_customer):
    customer = make_customer()
    communication = Communication.objects.create(
        customer=customer, channel="phone", content="回访", result="满意"
    )

    url = f"/admin/customers/communication/{communication.pk}/delete/"
    assert admin_client.post(url, {"post": "yes"}).status_code == 302

    assert not Communication.objects.exists()
    events = AuditEvent.objects.filter(
        object_id=str(communication.pk), object_type="customers.communication"
    )
    assert list(events.values_list("action", flat=True)) == ["delete"]


def add_form(**fields):
    return {
        "name": "赵六",
        "phone": "13800138000",
        "gender": "male",
        "source": "dine_in",
        "register_date": "2026-01-02",
        "_save": "Save",
        **fields,
    }


@pytest.mark.parametrize(
    ("customer_no", "rule"),
    [("VIP-001", "already"), ("C00042", "are generated")],
)
def test_a_refused_customer_number_shows_on_its_field(
    admin_client, make_customer, customer_no, rule
):
    make_customer(name="李四", customer_no="VIP-001")

    response = admin_client.post(
        "/admin/customers/customer/add/",
        add_form(customer_no=customer_no),
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert rule in " ".join(errors["customer_no"])


def audit_actions(obj):
    return list(
        AuditEvent.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_an_address_changed_inline_is_audited_once(admin_client, make_customer):
    customer = three_addresses(make_customer, "甲")
    third = third_address(customer)
    before = audit_actions(third)
    data = page_data(admin_client, change_url(customer))
    data[f"{address_prefix(admin_client, customer, third)}-detail"] = "丁路4号"

    response = admin_client.post(change_url(customer), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert audit_actions(third) == [*before, "update"]


def test_an_address_deleted_inline_is_audited_once(admin_client, make_customer):
    customer = three_addresses(make_customer, "甲")
    third = third_address(customer)
    data = page_data(admin_client, change_url(customer))
    data[f"{address_prefix(admin_client, customer, third)}-DELETE"] = "on"

    response = admin_client.post(change_url(customer), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert audit_actions(third).count("delete") == 1


def test_a_note_deleted_inline_is_audited_once(admin_client, manager, make_customer):
    customer = make_customer()
    note = services.note_add(customer=customer, actor=manager, body="喜欢靠窗")
    data = page_data(admin_client, change_url(customer))
    data["notes-0-DELETE"] = "on"

    response = admin_client.post(change_url(customer), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert audit_actions(note) == ["create", "delete"]
