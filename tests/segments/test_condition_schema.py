"""The OpenAPI schema of a segment condition (customers.conditions.openapi) says what the compiler
takes: the examples of the spec validate against it, a leaf naming an unknown field or operator
or missing its value does not, and every registered field and operator is named in it."""

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

from customers.conditions.fields import condition_fields


def schema_components() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)["components"]


@pytest.fixture(scope="module")
def condition_validator():
    components = schema_components()
    schema = {"$ref": "#/components/schemas/SegmentCondition", "components": components}
    return jsonschema.Draft4Validator(schema)


VALID = [
    # spec 5.3: a tree with a nested group
    {
        "logicalOperator": "and",
        "conditions": [
            {"field": "totalSpent", "operator": "gte", "value": 10000},
            {
                "logicalOperator": "or",
                "conditions": [
                    {"field": "level", "operator": "in", "value": ["vip", "svip"]},
                    {"field": "lastOrderDate", "operator": "within_days", "value": 30},
                ],
            },
        ],
    },
    # spec 4.3: the short form
    {"totalSpent": {"gte": 10000}, "orderCount": {"gte": 10}},
    # a single condition
    {"field": "birthdayMonth", "operator": "between", "value": [3, 5]},
    # a field another app registers
    {"field": "rfmTier", "operator": "eq", "value": 1},
]

INVALID = [
    {"field": "shoeSize", "operator": "eq", "value": 42},
    {"field": "tags", "operator": "greater", "value": "vip"},
    {"field": "orderCount", "operator": "gte"},
    {"logicalOperator": "xor", "conditions": [{"field": "age", "operator": "gt", "value": 3}]},
    {"logicalOperator": "and", "conditions": []},
    {"totalSpent": {}},
]


@pytest.mark.parametrize("condition", VALID)
def test_the_spec_examples_fit_the_schema(condition_validator, condition):
    condition_validator.validate(condition)


@pytest.mark.parametrize("condition", INVALID)
def test_a_condition_the_compiler_refuses_for_its_shape_does_not_fit(
    condition_validator, condition
):
    assert not condition_validator.is_valid(condition)


def test_every_registered_field_and_operator_is_named():
    components = schema_components()["schemas"]
    fields = condition_fields()
    assert components["ConditionFieldName"]["enum"] == list(fields)
    operators = {operator for field in fields.values() for operator in field.operators}
    assert set(components["ConditionOperator"]["enum"]) == operators
