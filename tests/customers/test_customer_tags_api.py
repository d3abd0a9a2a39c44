"""GET/POST/DELETE /api/v1/customers/{id}/tags (spec 2.4.4, 5.4 ProfileTag)."""

from decimal import Decimal

import pytest

from crm.models import AuditEvent
from customers.models import Customer, CustomerTag, Tag, TagSource

pytestmark = pytest.mark.django_db


def url(customer):
    return f"/api/v1/customers/{customer.pk}/tags"


def test_a_customers_tags_are_profile_tags_by_weight(api_client, manager, make_customer):
    Tag.objects.create(name="川菜爱好者", weight=50)
    Tag.objects.create(name="大客户", weight=90, type="auto")
    Tag.objects.create(name="午餐", weight=50)
    customer = make_customer(tags=["川菜爱好者", "午餐"])
    CustomerTag.objects.create(
        customer=customer,
        tag=Tag.objects.get(name="大客户"),
        source=TagSource.RULE,
        confidence=Decimal("0.7"),
        rule_id=1,
    )

    response = api_client(manager).get(url(customer))

    assert response.status_code == 200
    assert response.json()["data"]["tags"] == [
        {"name": "大客户", "type": "auto", "confidence": 0.7, "source": "rule", "weight": 90},
        {"name": "午餐", "type": "manual", "confidence": 1.0, "source": "manual", "weight": 50},
        {
            "name": "川菜爱好者",
            "type": "manual",
            "confidence": 1.0,
            "source": "manual",
            "weight": 50,
        },
    ]


def test_reading_the_tags_takes_a_fixed_number_of_queries(
    api_client, manager, make_customer, django_assert_max_num_queries
):
    customer = make_customer(tags=[f"标签{i}" for i in range(20)])
    client = api_client(manager)
    # the request's savepoint and its release, the user's and groups' permissions, the
    # customer, its tags with their Tag rows (one join), the access log: whatever the tag count
    with django_assert_max_num_queries(7):
        assert client.get(url(customer)).status_code == 200


def test_marketing_adds_and_removes_manual_tags_audited(api_client, marketer, make_customer):
    customer = make_customer(tags=["常客"])
    client = api_client(marketer)

    added = client.post(url(customer), {"tags": ["川菜爱好者", "常客"]}, format="json")
    assert added.status_code == 200
    assert added.json()["data"]["changed"] == ["川菜爱好者"]
    removed = client.delete(f"{url(customer)}?tags=常客&tags=无此标签")
    assert removed.status_code == 204 and not removed.content
    left = client.get(url(customer)).json()["data"]["tags"]
    assert [tag["name"] for tag in left] == ["川菜爱好者"]

    events = AuditEvent.objects.filter(action="update", object_id=str(customer.pk))
    summaries = [event.summary for event in events.order_by("pk")][-2:]
    assert summaries == [
        {"fields": ["tags"], "addTags": ["川菜爱好者"]},
        {"fields": ["tags"], "removeTags": ["常客"]},
    ]
    history_tags = [
        sorted(link.tag.name for link in record.tags.all())
        for record in customer.history.order_by("history_date", "history_id")
    ]
    assert history_tags[-2:] == [["川菜爱好者", "常客"], ["川菜爱好者"]]


def test_adding_a_rule_set_tag_makes_it_manual(api_client, marketer, make_customer):
    customer = make_customer()
    tag = Tag.objects.create(name="大客户")
    CustomerTag.objects.create(
        customer=customer, tag=tag, source=TagSource.RULE, confidence=Decimal("0.5"), rule_id=7
    )
    response = api_client(marketer).post(url(customer), {"tags": ["大客户"]}, format="json")
    assert response.json()["data"]["changed"] == ["大客户"]
    link = CustomerTag.objects.get(customer=customer, tag=tag)
    assert (link.source, link.confidence, link.rule_id) == ("manual", 1, None)


def test_a_batch_add_makes_a_rule_set_tag_manual_as_one_by_one(manager, make_customer):
    from customers.services import customers_batch_update

    ruled, plain = make_customer(), make_customer()
    tag = Tag.objects.create(name="大客户")
    CustomerTag.objects.create(
        customer=ruled, tag=tag, source=TagSource.RULE, confidence=Decimal("0.5"), rule_id=7
    )

    changed = customers_batch_update(
        actor=manager,
        customers=Customer.objects.filter(pk__in=[ruled.pk, plain.pk]),
        set_fields={},
        add_tags=["大客户"],
    )

    assert changed == 2
    links = CustomerTag.objects.filter(tag=tag).order_by("customer_id")
    assert [(link.source, link.confidence, link.rule_id) for link in links] == [
        ("manual", 1, None),
        ("manual", 1, None),
    ]
    assert ruled.history.first().tags.get().source == "manual"


@pytest.mark.parametrize("erased", [False, True])
def test_the_tags_of_an_archived_or_erased_customer_do_not_change(
    api_client, manager, make_customer, erased
):
    from customers.services.archive import customer_erase

    customer = make_customer(tags=["常客"])
    if erased:
        customer_erase(customer=customer, actor=manager, reason="privacy request")
    else:
        Customer.objects.filter(pk=customer.pk).update(status="archived")
    client = api_client(manager)

    assert client.post(url(customer), {"tags": ["新"]}, format="json").status_code == 404
    assert client.delete(f"{url(customer)}?tags=常客").status_code == 404
    assert not Tag.objects.filter(name="新").exists()


def test_finance_may_read_but_not_change_tags(api_client, make_user, make_customer):
    customer = make_customer(tags=["常客"])
    client = api_client(make_user("fin", roles=["finance"]))
    assert client.get(url(customer)).status_code == 200
    assert client.post(url(customer), {"tags": ["新"]}, format="json").status_code == 403
    assert client.delete(f"{url(customer)}?tags=常客").status_code == 403
    assert list(Customer.objects.get(pk=customer.pk).tags.values_list("name", flat=True)) == [
        "常客"
    ]


def test_creating_a_tag_needs_the_add_tag_permission(api_client, make_user, make_customer):
    customer = make_customer()
    service = make_user("cs", roles=["customer_service"])
    response = api_client(service).post(url(customer), {"tags": ["全新标签"]}, format="json")
    assert response.status_code == 403
    assert not Tag.objects.filter(name="全新标签").exists()


def test_a_bad_body_or_customer_is_refused(api_client, manager, make_customer):
    client = api_client(manager)
    customer = make_customer()
    assert client.post(url(customer), {"tags": []}, format="json").status_code == 400
    assert client.post(url(customer), {"tag": ["x"]}, format="json").status_code == 400
    missing = f"/api/v1/customers/{customer.pk + 1000}/tags"
    assert client.post(missing, {"tags": ["x"]}, format="json").status_code == 404
