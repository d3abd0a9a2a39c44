"""Inheritance and combination of tags (spec 标签可继承, 支持标签组合) in the list filter and in
conditions."""

import pytest

from customers.conditions import compile_condition
from customers.models import Customer, Tag

pytestmark = pytest.mark.django_db


@pytest.fixture
def tagged(make_customer):
    food = Tag.objects.create(name="美食爱好者")
    Tag.objects.create(name="川菜爱好者", parent=food)
    Tag.objects.create(name="价格敏感")
    return {
        "parent": make_customer(name="甲", tags=["美食爱好者"]),
        "child": make_customer(name="乙", tags=["川菜爱好者"]),
        "child_cheap": make_customer(name="丙", tags=["川菜爱好者", "价格敏感"]),
        "cheap": make_customer(name="丁", tags=["价格敏感"]),
        "none": make_customer(name="戊"),
    }


def listed(api_client, manager, **params) -> set[str]:
    response = api_client(manager).get("/api/v1/customers", params)
    assert response.status_code == 200
    return {row["name"] for row in response.json()["data"]["items"]}


def test_a_parent_tag_filter_matches_its_descendants(api_client, manager, tagged):
    assert listed(api_client, manager, tag="美食爱好者") == {"甲", "乙", "丙"}
    assert listed(api_client, manager, tag="川菜爱好者") == {"乙", "丙"}


def test_the_list_excludes_tags(api_client, manager, tagged):
    assert listed(api_client, manager, tag="美食爱好者", excludeTag="价格敏感") == {"甲", "乙"}
    assert listed(api_client, manager, excludeTag="美食爱好者") == {"丁", "戊"}


def test_a_condition_combines_a_tag_with_not_another(tagged):
    condition = {
        "logicalOperator": "and",
        "conditions": [
            {"field": "tags", "operator": "contains", "value": "美食爱好者"},
            {"field": "tags", "operator": "not_contains", "value": "价格敏感"},
        ],
    }
    names = set(
        Customer.objects.filter(compile_condition(condition)).values_list("name", flat=True)
    )
    assert names == {"甲", "乙"}
