"""The staff screens for customers: list, search, masking, actions, add/change through the
services, archive instead of delete, history, and the dashboard (spec 2.1, 6.1, 6.2)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm import admin_base
from crm.models import AuditEvent
from customers import kpis
from customers.models import Customer, CustomerNote, Tag

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/customers/customer/"
ADD_URL = "/admin/customers/customer/add/"
PASSWORD = "pass-1234-word"


def change_url(customer):
    return f"/admin/customers/customer/{customer.pk}/change/"


@pytest.fixture(autouse=True)
def fresh_kpi_cache():
    cache.delete(kpis.CACHE_KEY)
    yield
    cache.delete(kpis.CACHE_KEY)


@pytest.fixture
def staff_client(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def superuser(make_user):
    return make_user("boss", superuser=True)


def listed(response):
    return list(response.context["cl"].result_list)


# --- list ----------------------------------------------------------------------------------


def test_changelist_query_count_does_not_grow_with_rows(
    staff_client, superuser, make_customer, django_assert_max_num_queries
):
    client = staff_client(superuser)
    for i in range(3):
        make_customer(name=f"客户{i}", tags=["常客", "美食爱好者"])
    client.get(LIST_URL)  # warms the cached tier names of the level filter
    with django_assert_max_num_queries(12) as few:
        assert client.get(LIST_URL).status_code == 200
    for i in range(40):
        make_customer(name=f"新客{i}", tags=["常客"])
    with django_assert_max_num_queries(len(few.captured_queries)) as many:
        assert client.get(LIST_URL).status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)


def test_changelist_counts_once_and_never_selects_distinct(staff_client, superuser, make_customer):
    make_customer()
    client = staff_client(superuser)
    with CaptureQueriesContext(connection) as queries:
        client.get(LIST_URL, {"q": "张三", "level__exact": "regular"})
    sql = [q["sql"].upper() for q in queries.captured_queries]
    customer_counts = [s for s in sql if "COUNT(" in s and "CUSTOMERS_CUSTOMER" in s]
    assert len(customer_counts) == 1
    assert not [s for s in sql if "DISTINCT" in s and "CUSTOMERS_CUSTOMER" in s]
    assert not [s for s in sql if "LIKE" in s and "CUSTOMERS_CUSTOMER" in s]


def test_unfiltered_list_of_a_large_table_uses_the_estimate(
    staff_client, superuser, make_customer, monkeypatch
):
    archived = make_customer(name="旧客")
    Customer.objects.filter(pk=archived.pk).update(status="archived")
    make_customer()
    monkeypatch.setattr(admin_base, "estimated_rows", lambda model: 1_000_000)
    client = staff_client(superuser)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST_URL)

    assert response.context["cl"].result_count == 1_000_000 - 1
    counts = [
        q["sql"]
        for q in queries.captured_queries
        if "COUNT(" in q["sql"].upper() and "customers_customer" in q["sql"]
    ]
    # Only the archived customers are counted (a small, indexed set), not the live ones.
    assert len(counts) == 1
    assert "'archived'" in counts[0] and "NOT" not in counts[0].upper()
    # A filtered list is counted exactly.
    assert client.get(LIST_URL, {"q": "张三"}).context["cl"].result_count == 1


def test_the_unfiltered_address_list_of_a_large_table_is_estimated_and_a_filtered_one_counted(
    staff_client, superuser, make_customer, monkeypatch
):
    make_customer(addresses=[{"detail": "建国路88号"}])
    monkeypatch.setattr(admin_base, "estimated_rows", lambda model: 1_000_000)
    client = staff_client(superuser)

    unfiltered = client.get("/admin/customers/address/")
    filtered = client.get("/admin/customers/address/", {"is_default__exact": "1"})

    assert unfiltered.context["cl"].result_count == 1_000_000
    assert filtered.context["cl"].result_count == 1


def test_archived_customers_are_left_out_unless_asked_for(staff_client, superuser, make_customer):
    kept = make_customer(name="在册")
    gone = make_customer(name="已归档")
    Customer.objects.filter(pk=gone.pk).update(status="archived")
    client = staff_client(superuser)
    assert listed(client.get(LIST_URL)) == [kept]
    assert listed(client.get(LIST_URL, {"status": "archived"})) == [gone]
    assert set(listed(client.get(LIST_URL, {"status": "all"}))) == {kept, gone}


def test_tag_and_registration_date_filters(staff_client, superuser, make_customer):
    old = make_customer(name="老客", register_date=timezone.localdate() - timedelta(days=400))
    new = make_customer(name="新客", tags=["外卖"])
    client = staff_client(superuser)
    assert listed(client.get(LIST_URL, {"tag": "外卖"})) == [new]
    since = (timezone.localdate() - timedelta(days=30)).isoformat()
    assert listed(client.get(LIST_URL, {"register_from": since})) == [new]
    until = (timezone.localdate() - timedelta(days=300)).isoformat()
    assert listed(client.get(LIST_URL, {"register_to": until})) == [old]
    assert client.get(LIST_URL, {"register_from": "not-a-date"}).status_code == 302


@pytest.mark.parametrize(
    ("term", "expected"),
    [("王芳", "王芳"), ("8000", "王芳"), ("wang.fang@example.com", "王芳"), ("李", "李四")],
)
def test_search_uses_the_customer_search(staff_client, superuser, make_customer, term, expected):
    make_customer(name="王芳", phone="13800138000", email="Wang.Fang@example.com")
    make_customer(name="王小芳", phone="13900139001")
    make_customer(name="李四", phone="13700137002")
    response = staff_client(superuser).get(LIST_URL, {"q": term})
    assert [c.name for c in listed(response)] == [expected]


def test_phone_is_masked_without_the_reveal_permission(staff_client, marketer, make_customer):
    make_customer(phone="13800138000")
    response = staff_client(marketer).get(LIST_URL)
    content = response.content.decode()
    assert "138****8000" in content
    assert "13800138000" not in content
    assert not AuditEvent.objects.filter(action="reveal_pii").exists()


def test_revealed_phones_are_shown_and_audited_once_per_page(staff_client, manager, make_customer):
    make_customer(phone="13800138000")
    make_customer(phone="13900139000")
    response = staff_client(manager).get(LIST_URL)
    content = response.content.decode()
    assert "13800138000" in content and "13900139000" in content
    events = AuditEvent.objects.filter(action="reveal_pii")
    assert events.count() == 1
    assert len(events.get().summary["customerIds"]) == 2


def test_the_address_list_reveals_details_once_per_page_naming_each_customer_once(
    staff_client, manager, make_user, make_customer
):
    make_customer(addresses=[{"detail": "建国路88号"}, {"detail": "人民路2号"}])
    make_customer(addresses=[{"detail": "中山路3号"}])
    operations = make_user("ops", roles=["operations"])

    masked = staff_client(operations).get("/admin/customers/address/")
    assert masked.status_code == 200
    assert "建国路88号" not in masked.content.decode() and "建国****" in masked.content.decode()
    assert not AuditEvent.objects.filter(action="reveal_pii").exists()

    shown = staff_client(manager).get("/admin/customers/address/").content.decode()
    assert "建国路88号" in shown and "中山路3号" in shown
    event = AuditEvent.objects.get(action="reveal_pii")
    assert event.summary["context"] == "admin_addresses"
    assert len(event.summary["customerIds"]) == 2


# --- actions -------------------------------------------------------------------------------


def run_action(client, action, customers, **data):
    return client.post(
        LIST_URL,
        {
            "action": action,
            "_selected_action": [c.pk for c in customers],
            "select_across": "0",
            "apply": "1",
            **data,
        },
    )


def test_add_tags_action_asks_for_tags_then_adds_them_with_history(
    staff_client, marketer, make_customer
):
    customers = [make_customer(name="甲"), make_customer(name="乙")]
    client = staff_client(marketer)
    # Without "apply" the action shows its form.
    page = client.post(
        LIST_URL, {"action": "add_tags", "_selected_action": [c.pk for c in customers]}
    )
    assert page.status_code == 200
    assert page.templates[0].name == "admin/customers/customer/batch_action.html"

    response = run_action(
        client, "add_tags", customers, new_tags="高价值, 美食爱好者", reason="活动"
    )

    assert response.status_code == 302
    for customer in customers:
        assert sorted(t.name for t in customer.tags.all()) == ["美食爱好者", "高价值"]
        assert customer.history.first().history_user == marketer


def test_remove_tags_action(staff_client, marketer, make_customer):
    customer = make_customer(tags=["外卖", "常客"])
    tag = Tag.objects.get(name="外卖")
    run_action(staff_client(marketer), "remove_tags", [customer], tags=[tag.pk])
    assert [t.name for t in customer.tags.all()] == ["常客"]


def test_change_status_action_writes_history(staff_client, make_user, make_customer):
    customer = make_customer()
    operator = make_user("ops", roles=["operations"])
    run_action(
        staff_client(operator), "change_status", [customer], status="inactive", reason="久未到店"
    )
    customer.refresh_from_db()
    assert customer.status == "inactive"
    record = customer.history.first()
    assert record.status == "inactive" and record.history_change_reason == "久未到店"


def test_batch_actions_need_the_batch_permission(staff_client, make_user, make_customer):
    customer = make_customer()
    finance = make_user("finance", roles=["finance"])
    response = run_action(staff_client(finance), "change_status", [customer], status="inactive")
    customer.refresh_from_db()
    assert customer.status == "active"
    assert response.status_code in {200, 302, 403}


def test_archive_replaces_delete(staff_client, manager, make_customer):
    customer = make_customer()
    client = staff_client(manager)
    actions = (
        client.get(LIST_URL)
        .context["cl"]
        .model_admin.get_actions(client.get(LIST_URL).wsgi_request)
    )
    assert "delete_selected" not in actions and "archive_selected" in actions

    response = client.post(f"/admin/customers/customer/{customer.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.status == "archived"
    assert AuditEvent.objects.filter(action="delete", object_id=str(customer.pk)).count() == 1


# --- add and change ------------------------------------------------------------------------


def add_form(**fields):
    return {
        "name": "赵六",
        "phone": "138 0013 8000",
        "email": "",
        "gender": "male",
        "source": "dine_in",
        "register_date": timezone.localdate().isoformat(),
        "_save": "Save",
        **fields,
    }


def test_add_creates_the_customer_through_the_service(staff_client, manager):
    response = staff_client(manager).post(ADD_URL, add_form(email="ZhaoLiu@Example.com"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    customer = Customer.objects.get(name="赵六")
    assert customer.phone == "+8613800138000"
    assert customer.email == "zhaoliu@example.com"
    assert customer.customer_no.startswith("C")
    assert AuditEvent.objects.filter(action="create", object_id=str(customer.pk)).count() == 1


def test_add_with_a_duplicate_phone_shows_a_form_error(staff_client, manager, make_customer):
    make_customer(name="李四", phone="13800138000")
    response = staff_client(manager).post(ADD_URL, add_form(phone="+86 138-0013-8000"))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "phone" in form.errors
    assert Customer.objects.count() == 1


def test_add_with_an_invalid_phone_shows_a_form_error(staff_client, manager):
    response = staff_client(manager).post(ADD_URL, add_form(phone="12345"))
    assert response.status_code == 200
    assert "phone" in response.context["adminform"].form.errors


def change_form(client, customer, **fields):
    """The change form as the page shows it, with `fields` changed."""
    response = client.get(change_url(customer))
    form = response.context["adminform"].form
    data = {}
    for name, _field in form.fields.items():
        value = form[name].value()
        if value is None:
            continue
        if isinstance(value, list | tuple):
            data[name] = [getattr(v, "pk", v) for v in value]
        else:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management[name].value()
    data.update(fields)
    data["_continue"] = "1"
    return data


def test_changing_the_phone_without_password_is_refused_on_the_form(
    staff_client, manager, make_customer
):
    customer = make_customer(phone="13800138000")
    client = staff_client(manager)
    response = client.post(change_url(customer), change_form(client, customer, phone="13900139000"))
    assert response.status_code == 200
    assert "verification_password" in response.context["adminform"].form.errors
    customer.refresh_from_db()
    assert customer.phone == "+8613800138000"


def test_changing_the_phone_with_password_saves_it_with_history(
    staff_client, manager, make_customer
):
    customer = make_customer(phone="13800138000")
    client = staff_client(manager)
    data = change_form(
        client,
        customer,
        phone="13900139000",
        verification_password=PASSWORD,
        change_reason="客户换号",
    )
    response = client.post(change_url(customer), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    customer.refresh_from_db()
    assert customer.phone == "+8613900139000"
    assert customer.history.first().history_change_reason == "客户换号"


def test_other_fields_change_without_password(staff_client, manager, make_customer):
    customer = make_customer(name="张三")
    client = staff_client(manager)
    response = client.post(change_url(customer), change_form(client, customer, name="张三丰"))
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.name == "张三丰"


def test_masked_phone_left_empty_keeps_the_number(staff_client, make_user, make_customer):
    customer = make_customer(name="张三", phone="13800138000")
    client = staff_client(make_user("ops", roles=["operations"]))
    page = client.get(change_url(customer)).content.decode()
    assert "13800138000" not in page and "138****8000" in page
    response = client.post(change_url(customer), change_form(client, customer, name="张三丰"))
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.name, customer.phone) == ("张三丰", "+8613800138000")


def test_change_page_has_the_tabs_of_spec_6_2_and_adds_notes(staff_client, manager, make_customer):
    customer = make_customer()
    client = staff_client(manager)
    page = client.get(change_url(customer), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for tab in ("Basic information", "Orders", "Interactions", "Portrait"):
        assert f">{tab}</button>" in page
    assert "No orders yet." in page  # the orders tab, for a customer without orders

    data = change_form(client, customer, **{"notes-TOTAL_FORMS": "1", "notes-0-body": "喜欢靠窗"})
    assert client.post(change_url(customer), data).status_code == 302
    note = CustomerNote.objects.get(customer=customer)
    assert (note.body, note.author) == ("喜欢靠窗", manager)


def test_history_masks_the_phone_without_reveal(staff_client, manager, marketer, make_customer):
    customer = make_customer(phone="13800138000")
    client = staff_client(manager)
    client.post(
        change_url(customer),
        change_form(client, customer, phone="13900139000", verification_password=PASSWORD),
    )
    page = staff_client(marketer).get(f"/admin/customers/customer/{customer.pk}/history/")
    content = page.content.decode()
    assert page.status_code == 200
    assert "139****9000" in content
    assert "13900139000" not in content and "13800138000" not in content


# --- dashboard -----------------------------------------------------------------------------


def test_kpis_count_live_customers_in_one_query(make_customer, django_assert_num_queries):
    now = timezone.now()
    ids = [make_customer(name=f"客{i}").pk for i in range(6)]
    # Two customers from 45 days ago (one VIP), one from 100 days ago, three recent.
    Customer.objects.filter(pk__in=ids[:2]).update(created_at=now - timedelta(days=45))
    Customer.objects.filter(pk=ids[2]).update(created_at=now - timedelta(days=100))
    Customer.objects.filter(pk__in=[ids[0], ids[3]]).update(level="vip")
    Customer.objects.filter(pk=ids[4]).update(level="svip")
    # Ordered lately: ids 0, 3; an archived customer counts nowhere.
    Customer.objects.filter(pk__in=[ids[0], ids[3]]).update(last_order_date=now - timedelta(days=3))
    Customer.objects.filter(pk=ids[5]).update(status="archived", level="vip")

    with django_assert_num_queries(1):
        figures = {kpi.key: kpi for kpi in kpis.compute_kpis(now=now)}

    assert (figures["total"].value, figures["total"].previous) == (5, 3)
    assert figures["total"].change == Decimal("66.7")
    assert (figures["new"].value, figures["new"].previous) == (2, 2)
    assert figures["new"].change == Decimal("0.0")
    assert (figures["vip"].value, figures["vip"].previous) == (3, 1)
    assert figures["vip"].change == Decimal("200.0")
    assert figures["active_rate"].value == Decimal("40.0")
    assert figures["active_rate"].is_rate


def test_dashboard_shows_the_four_kpi_cards(staff_client, manager, make_customer):
    make_customer()
    make_customer(name="李四")
    response = staff_client(manager).get("/admin/", HTTP_ACCEPT_LANGUAGE="en")
    cards = {card["key"]: card for card in response.context["dashboard_cards"]}
    # The customer KPIs first; other cards (follow-ups) follow.
    assert list(cards)[:4] == ["total", "new", "vip", "active_rate"]
    assert cards["total"]["value"] == 2 and cards["new"]["value"] == 2
    content = response.content.decode()
    for label in ("Total customers", "New customers", "VIP customers", "Active rate"):
        assert label in content
    assert 'data-kpi="total">2<' in content


def test_dashboard_figures_are_cached(staff_client, manager, make_customer):
    make_customer()
    client = staff_client(manager)
    client.get("/admin/")
    make_customer(name="李四")
    cards = client.get("/admin/").context["dashboard_cards"]
    assert cards[0]["value"] == 1
