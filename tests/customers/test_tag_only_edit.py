"""Marketing tags customers (docs/roles.md): the tag permission changes tags and nothing else of
the profile, on every path (API, batch edit, admin form)."""

import pytest

from customers.models import Customer, Tag

pytestmark = pytest.mark.django_db


def detail_url(customer):
    return f"/api/v1/customers/{customer.pk}"


def names(customer):
    return sorted(customer.tags.values_list("name", flat=True))


def test_marketing_changes_a_customers_tags(api_client, marketer, make_customer):
    customer = make_customer(tags=["常客"])
    response = api_client(marketer).patch(
        detail_url(customer), {"tags": ["常客", "素食"]}, format="json"
    )
    assert response.status_code == 200
    assert names(customer) == ["常客", "素食"]


@pytest.mark.parametrize(
    "change", [{"name": "李四"}, {"birthday": "1990-01-01"}, {"gender": "female"}]
)
def test_marketing_may_not_change_a_profile_field(api_client, marketer, make_customer, change):
    customer = make_customer(name="张三")
    response = api_client(marketer).patch(
        detail_url(customer), {**change, "tags": ["素食"]}, format="json"
    )
    assert response.status_code == 403
    assert next(iter(change)) in response.json()["error"]["message"]
    customer.refresh_from_db()
    assert customer.name == "张三" and customer.birthday is None and names(customer) == []


def test_finance_without_either_permission_is_refused(api_client, make_user, make_customer):
    customer = make_customer()
    finance = make_user("fin", roles=["finance"])
    response = api_client(finance).patch(detail_url(customer), {"tags": ["x"]}, format="json")
    assert response.status_code == 403
    assert names(customer) == []


def test_marketing_batch_edit_tags_but_not_status(api_client, marketer, make_customer):
    first, second = make_customer(), make_customer()
    client = api_client(marketer)
    url = "/api/v1/customers/batch-update"
    tagged = client.post(url, {"ids": [first.pk, second.pk], "addTags": ["周末"]}, format="json")
    status = client.post(url, {"ids": [first.pk], "set": {"status": "inactive"}}, format="json")
    assert (tagged.status_code, status.status_code) == (200, 403)
    assert names(first) == names(second) == ["周末"]
    first.refresh_from_db()
    assert first.status == "active"


def test_marketing_admin_form_edits_tags_only(client, marketer, make_customer):
    customer = make_customer(name="张三")
    tag = Tag.objects.create(name="素食")
    client.force_login(marketer)
    url = f"/admin/customers/customer/{customer.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert "customer_tags" in form.fields and "name" not in form.fields
    # A forged field is ignored: only the form's own fields are read.
    response = client.post(url, {"customer_tags": [tag.pk], "name": "李四", "_continue": "1"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    customer = Customer.objects.get(pk=customer.pk)
    assert (customer.name, names(customer)) == ("张三", ["素食"])
