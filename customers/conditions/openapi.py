"""The condition language (spec 5.3) as JSON Schema in the OpenAPI document, so that typed
clients and the fuzzer know what a condition looks like instead of "any object".

The shape is spelled out (groups of conditions, a condition's field, operator and value, the
short form of spec 4.3) and the field and operator names are enums from the field registry.
Which operators a field takes and the type of its value are left to the compiler, which answers
400 naming the part at fault, and to `GET /api/v1/customers/segments/fields`, which lists them:
a schema with one alternative per field made schemathesis' coverage phase send thousands of
cases per operation (minutes each), for no check the compiler's tests do not already make.
"""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

from customers.conditions.compiler import LOGICAL_OPERATORS, MAX_CONDITIONS
from customers.conditions.fields import (
    MAX_IN_VALUES,
    MAX_TEXT,
    OPERATORS,
    condition_fields,
)

CONDITION = "SegmentCondition"
GROUP = "ConditionGroup"
SUBGROUP = "ConditionSubgroup"
LEAF = "ConditionLeaf"
FIELD = "ConditionFieldName"
OPERATOR = "ConditionOperator"
VALUE = "ConditionValue"


class ConditionJSONField(serializers.JSONField):
    """A segment condition in either form; the compiler checks it (customers.conditions)."""


class ConditionJSONFieldSchema(OpenApiSerializerFieldExtension):
    target_class = ConditionJSONField

    def map_serializer_field(self, auto_schema, direction):
        for name, schema in condition_components().items():
            auto_schema.registry.register_on_missing(
                ResolvedComponent(
                    name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema
                )
            )
        return _ref(CONDITION)


def condition_components() -> dict[str, dict]:
    """The schemas of a condition: the full tree (a group of conditions and groups, spec 5.3),
    one condition alone, or the short form of spec 4.3 ({field: {operator: value}})."""
    operators = dict.fromkeys(op for kind_ops in OPERATORS.values() for op in kind_ops)
    scalar = [{"type": "number"}, {"type": "string", "minLength": 1, "maxLength": MAX_TEXT}]
    return {
        CONDITION: {
            "description": "A condition tree, a single condition, or the short form.",
            "anyOf": [_ref(GROUP), _ref(LEAF), _short_form()],
        },
        # Two levels spelled out, deeper ones as plain objects: a self-referencing group is
        # inlined by generators level after level. The compiler checks every depth.
        GROUP: _group(_ref(SUBGROUP)),
        SUBGROUP: _group(
            {"type": "object", "description": "A group nested deeper, of the same shape."}
        ),
        LEAF: {
            "type": "object",
            "properties": {"field": _ref(FIELD), "operator": _ref(OPERATOR), "value": _ref(VALUE)},
            "required": ["field", "operator", "value"],
            "additionalProperties": False,
        },
        FIELD: {"type": "string", "enum": list(condition_fields())},
        OPERATOR: {"type": "string", "enum": list(operators)},
        VALUE: {
            "description": (
                "A number, a date (YYYY-MM-DD) or a text; a list for `in` and `between`; a "
                "number of days for `within_days` and `before_days`."
            ),
            "anyOf": [
                *scalar,
                {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_IN_VALUES,
                    "items": {"anyOf": scalar},
                },
            ],
        },
    }


def _group(nested: dict) -> dict:
    return {
        "type": "object",
        "properties": {
            "logicalOperator": {"type": "string", "enum": list(LOGICAL_OPERATORS)},
            "conditions": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_CONDITIONS,
                "items": {"anyOf": [_ref(LEAF), nested]},
            },
        },
        "required": ["conditions"],
        "additionalProperties": False,
    }


def _short_form() -> dict:
    return {
        "type": "object",
        "description": "Field names as keys, each with operators as keys and their values.",
        "minProperties": 1,
        "additionalProperties": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": _ref(VALUE),
        },
    }


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}
