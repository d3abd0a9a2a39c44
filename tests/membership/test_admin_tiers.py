"""The tier editor in the admin: tiers with their conditions and benefits, saved and deleted
through membership.services.levels (audited; a tier in use is not deleted)."""

import pytest
from django.contrib.admin.models import LogEntry
from django.db.models.fields.files import FieldFile

from crm.models import AuditEvent
from customers.models import Customer
from membership.models import Benefit, BenefitUsage, MembershipLevel

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/membership/membershiplevel/"
ADD_URL = "/admin/membership/membershiplevel/add/"


def change_url(level):
    return f"/admin/membership/membershiplevel/{level.pk}/change/"


def delete_url(level):
    return f"/admin/membership/membershiplevel/{level.pk}/delete/"


def form_data(response, **changes):
    """What the change form would send back unchanged (inline rows included), with `changes`."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management[name].value()
        forms.extend(inline.formset.forms)
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is not None and value is not False and not isinstance(value, FieldFile):
                data[form.add_prefix(name)] = getattr(value, "pk", value)
    data.update(changes)
    data["_continue"] = "1"
    return data


@pytest.fixture
def manager(make_user):
    return make_user("manager", roles=["manager"])


@pytest.fixture
def gold():
    """A tier nobody holds, with one benefit."""
    level = MembershipLevel.objects.create(code="gold", name="金卡", name_en="Gold", sort_order=50)
    Benefit.objects.create(level=level, kind="discount", value=8, description="八折")
    return level


def test_tier_pages_load_for_a_manager_and_are_refused_without_permission(
    client, make_user, manager, gold
):
    client.force_login(manager)
    page = client.get(LIST_URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "金卡" in page and "spent ¥5,000.00 or 30 orders within 365 days" in page  # vip
    response = client.get(change_url(gold), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "Upgrade conditions" in response.content.decode()
    assert "八折" in response.content.decode()  # the benefit inline

    client.force_login(make_user("nobody"))
    assert client.get(LIST_URL).status_code == 403
    assert client.get(change_url(gold)).status_code == 403


def test_a_role_that_only_views_tiers_cannot_save_them(client, make_user, gold):
    client.force_login(make_user("marketer", roles=["marketing"]))
    assert client.get(change_url(gold)).status_code == 200
    assert client.post(change_url(gold), {"name": "改名"}).status_code == 403
    assert client.post(delete_url(gold), {"post": "yes"}).status_code == 403
    gold.refresh_from_db()
    assert gold.name == "金卡"


def test_saving_a_tier_and_its_benefits_is_audited(client, manager, gold):
    client.force_login(manager)
    data = form_data(
        client.get(change_url(gold)),
        name="黄金会员",
        min_spent="8000",
        **{
            "benefits-TOTAL_FORMS": "2",
            "benefits-1-kind": "free_delivery",
            "benefits-1-value": "0",
            "benefits-1-description": "免配送费",
            "benefits-1-sort_order": "1",
            "benefits-1-usage_period": "term",  # the select's default
            "benefits-1-is_active": "on",
        },
    )
    response = client.post(change_url(gold), data)

    assert response.status_code == 302
    gold.refresh_from_db()
    assert (gold.name, gold.min_spent) == ("黄金会员", 8000)
    assert set(gold.benefits.values_list("description", flat=True)) == {"八折", "免配送费"}
    events = AuditEvent.objects.filter(actor=manager).exclude(action="login_success")
    # save_level's event for the tier, one per benefit written (the unchanged one is not).
    assert set(events.values_list("action", "object_type")) == {
        ("update", "membership.membershiplevel"),
        ("create", "membership.benefit"),
    }
    assert events.count() == 2


def test_an_amount_off_is_added_in_the_tier_editor(client, manager, gold):
    client.force_login(manager)
    data = form_data(
        client.get(change_url(gold)),
        **{
            "benefits-TOTAL_FORMS": "2",
            "benefits-1-kind": "amount_off",
            "benefits-1-value": "20",
            "benefits-1-description": "立减20元",
            "benefits-1-sort_order": "1",
            "benefits-1-usage_period": "term",
            "benefits-1-is_active": "on",
        },
    )

    assert client.post(change_url(gold), data).status_code == 302
    assert gold.benefits.get(kind="amount_off").value == 20


def test_adding_a_tier(client, manager):
    client.force_login(manager)
    data = form_data(
        client.get(ADD_URL),
        code="diamond",
        name="钻石",
        sort_order="90",
        min_orders="200",
    )
    assert client.post(ADD_URL, data).status_code == 302
    level = MembershipLevel.objects.get(code="diamond")
    assert (level.name, level.min_orders, level.condition_match) == ("钻石", 200, "any")
    assert AuditEvent.objects.filter(action="create", object_id=str(level.pk)).exists()


def test_the_code_of_a_tier_that_customers_hold_cannot_change(client, manager, gold, make_customer):
    customer = make_customer()
    Customer.objects.filter(pk=customer.pk).update(level="gold")
    client.force_login(manager)
    data = form_data(client.get(change_url(gold)), code="golden", name="新名字")

    response = client.post(change_url(gold), data, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["code"] == ["In use by customers."]
    gold.refresh_from_db()
    assert (gold.code, gold.name) == ("gold", "金卡")  # nothing of the refused save stays


def test_deleting_a_tier_in_use_shows_the_service_message_and_keeps_it(
    client, manager, gold, make_customer
):
    customer = make_customer()
    Customer.objects.filter(pk=customer.pk).update(level="gold")
    client.force_login(manager)

    response = client.post(delete_url(gold), {"post": "yes"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 302
    assert response.url == change_url(gold)
    page = client.get(response.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "1 customers and 0 active memberships are in this tier" in page
    assert MembershipLevel.objects.filter(pk=gold.pk).exists()
    assert not LogEntry.objects.filter(action_flag=3).exists()
    assert not AuditEvent.objects.filter(action="delete").exists()


def test_deleting_a_tier_nobody_holds(client, manager, gold):
    client.force_login(manager)
    response = client.post(delete_url(gold), {"post": "yes"})
    assert response.status_code == 302
    assert not MembershipLevel.objects.filter(pk=gold.pk).exists()
    assert AuditEvent.objects.filter(action="delete", object_id=str(gold.pk)).count() == 1


def test_the_list_and_the_editor_preview_icons(client, manager, gold):
    MembershipLevel.objects.filter(pk=gold.pk).update(icon="membership/icons/gold.png")
    client.force_login(manager)
    image = '<img src="/media/membership/icons/gold.png"'
    assert image in client.get(LIST_URL).content.decode()
    assert image in client.get(change_url(gold)).content.decode()


def test_a_used_benefit_cannot_be_deleted_from_the_tier_editor(
    client, manager, gold, make_customer
):
    benefit = gold.benefits.get()
    BenefitUsage.objects.create(benefit=benefit, customer=make_customer())
    client.force_login(manager)
    data = form_data(client.get(change_url(gold)), **{"benefits-0-DELETE": "on"})
    response = client.post(change_url(gold), data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200  # the form comes back; the admin refuses protected rows
    assert "protected" in str(
        response.context["inline_admin_formsets"][0].formset.non_form_errors()
    )
    assert Benefit.objects.filter(pk=benefit.pk).exists()


def test_a_benefit_deleted_in_the_tier_editor_is_audited(client, manager, gold):
    benefit = gold.benefits.get()
    client.force_login(manager)
    data = form_data(client.get(change_url(gold)), **{"benefits-0-DELETE": "on"})
    assert client.post(change_url(gold), data).status_code == 302
    assert not Benefit.objects.filter(pk=benefit.pk).exists()
    assert AuditEvent.objects.filter(
        action="delete", object_type="membership.benefit", object_id=str(benefit.pk)
    ).exists()
