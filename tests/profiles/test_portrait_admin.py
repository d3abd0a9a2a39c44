"""The customer page's Portrait tab and the screen where staff set occupation and income."""

import pytest
from django.contrib.auth.models import Permission

from crm.models import AuditEvent
from profiles.models import CustomerProfile
from profiles.services.portraits import refresh_portraits
from tests.profiles.conftest import weekday_lunch

pytestmark = pytest.mark.django_db

TAB = '<button type="button" role="tab" id="crm-tab-portrait"'


def lunches(customer, count=4):
    for day in range(count):
        weekday_lunch(customer, day, dish="牛肉面", category="面食", payment_method="wechat_pay")
    refresh_portraits([customer.pk])


def page(client, customer, language):
    response = client.get(
        f"/admin/customers/customer/{customer.pk}/change/", HTTP_ACCEPT_LANGUAGE=language
    )
    assert response.status_code == 200
    return response.content.decode()


def test_the_tab_shows_the_portrait_in_english_and_chinese(client, marketer, make_customer):
    customer = make_customer()
    lunches(customer)
    client.force_login(marketer)
    english = page(client, customer, "en")
    assert TAB in english
    assert "office worker" in english and "inferred (confidence 0.40)" in english
    assert "牛肉面" in english and "12:00-13:00" in english and "WeChat Pay" in english
    assert "Set occupation and income" in english
    chinese = page(client, customer, "zh-hans")
    assert "白领" in chinese and "微信支付" in chinese


def test_no_tab_for_finance(client, make_user, make_customer):
    finance = make_user("money", roles=["finance"])
    client.force_login(finance)
    assert TAB not in page(client, make_customer(), "en")


def test_staff_set_the_occupation_in_the_admin_and_it_is_audited(client, marketer, make_customer):
    customer = make_customer()
    lunches(customer)
    client.force_login(marketer)
    url = f"/admin/profiles/customerprofile/{customer.pk}/change/"
    response = client.post(url, {"occupation_manual": "business", "income_manual": ""})
    assert response.status_code == 302
    profile = CustomerProfile.objects.get(customer_id=customer.pk)
    assert (profile.occupation_manual, profile.manual_by) == ("business", marketer)
    assert profile.occupation_inferred == "white_collar"  # kept, but the manual value wins
    assert AuditEvent.objects.filter(object_type="profiles.customerprofile").count() == 1
    assert "set by staff" in page(client, customer, "en")


def test_those_who_may_only_view_cannot_change_a_portrait(client, make_user, make_customer):
    viewer = make_user("viewer", roles=["operations"])
    customer = make_customer()
    refresh_portraits([customer.pk])
    viewer.user_permissions.add(*Permission.objects.filter(codename="view_customerprofile"))
    client.force_login(viewer)
    url = f"/admin/profiles/customerprofile/{customer.pk}/change/"
    client.post(url, {"occupation_manual": "business"})
    assert CustomerProfile.objects.get(customer_id=customer.pk).occupation_manual == ""


def test_the_tab_costs_four_queries_whatever_the_history(
    client, manager, make_customer, django_assert_num_queries
):
    from profiles.admin_panel import portrait_panel

    rich, newcomer = make_customer(name="甲"), make_customer(name="乙")
    lunches(rich, count=8)
    request = type("Request", (), {"user": manager})()
    manager.get_all_permissions()  # permissions cached, as in a request that checked them
    for customer in (rich, newcomer):
        with django_assert_num_queries(4):
            portrait_panel(request, customer)
