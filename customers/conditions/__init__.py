"""Customer conditions (spec 5.3): the fields a condition may name and the compiler that turns a
condition tree into one SQL query. Segments, tag rules, campaigns and analytics use them."""

from customers.conditions.compiler import InvalidCondition, compile_condition, normalize_condition
from customers.conditions.fields import (
    ConditionField,
    Kind,
    condition_fields,
    register_condition_field,
)

__all__ = [
    "ConditionField",
    "InvalidCondition",
    "Kind",
    "compile_condition",
    "condition_fields",
    "normalize_condition",
    "register_condition_field",
]
