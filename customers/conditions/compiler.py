"""Customer conditions (spec 5.3) checked and compiled into one Django Q object.

The full form is a tree of groups and conditions, nested to any depth:

    {"logicalOperator": "and", "conditions": [
        {"field": "totalSpent", "operator": "gte", "value": 10000},
        {"logicalOperator": "or", "conditions": [
            {"field": "level", "operator": "in", "value": ["vip", "svip"]},
            {"field": "lastOrderDate", "operator": "within_days", "value": 30}]}]}

The short form of the spec 4.3 example, `{"totalSpent": {"gte": 10000}, "orderCount": {"gte":
10}}`, means all of its conditions; `normalize_condition` turns it into the full form, which is
what is stored. Every error names the condition at fault by its path (`conditions[1].value`),
so that the builder can point at it.
"""

import copy

from django.db.models import Q
from django.utils.translation import gettext as _

from crm.errors import BusinessError
from customers.conditions.fields import BadValue, condition_fields

# Bounds on one tree, far above what a person builds, so that a request cannot make the
# database plan an endless query.
MAX_DEPTH = 10
MAX_CONDITIONS = 200
LOGICAL_OPERATORS = ("and", "or")


class InvalidCondition(BusinessError):
    code = "invalid_condition"

    def __init__(self, path: str, message: str):
        self.path = path
        super().__init__(f"{path}: {message}", fields={path: [message]})


def normalize_condition(condition, *, path: str = "condition") -> dict:
    """The condition in its full form, every field, operator and value checked and cleaned
    (values as JSON: dates stay ISO strings), as it is stored. Raises InvalidCondition naming the
    part at fault."""
    tree = copy.deepcopy(_full_form(condition, path))
    _check(tree, path, depth=1, count=[0])
    _compile(tree, path)  # what only the database knows, such as whether a tag exists
    return tree


def compile_condition(condition, *, path: str = "condition") -> Q:
    """The Q object selecting the customers that meet `condition` (either form).
    Raises InvalidCondition."""
    tree = copy.deepcopy(_full_form(condition, path))
    _check(tree, path, depth=1, count=[0])
    return _compile(tree, path)


def _full_form(condition, path: str) -> dict:
    if not isinstance(condition, dict) or not condition:
        raise InvalidCondition(path, _("Give a condition: an object of conditions."))
    if "conditions" in condition or "logicalOperator" in condition:
        return condition
    if "field" in condition:  # a single condition
        return {"logicalOperator": "and", "conditions": [condition]}
    # The short form: {"field": {"operator": value, ...}, ...}, all of them.
    conditions = []
    for field, operators in condition.items():
        if not isinstance(operators, dict) or not operators:
            raise InvalidCondition(
                f"{path}.{field}",
                _('Give the field\'s operators and values, such as {"gte": 100}.'),
            )
        for operator, value in operators.items():
            conditions.append({"field": field, "operator": operator, "value": value})
    return {"logicalOperator": "and", "conditions": conditions}


def _check(node, path: str, *, depth: int, count: list[int]) -> None:
    if not isinstance(node, dict):
        raise InvalidCondition(path, _("Each condition is an object."))
    if "conditions" in node or "logicalOperator" in node:
        _check_group(node, path, depth=depth, count=count)
    else:
        count[0] += 1
        if count[0] > MAX_CONDITIONS:
            raise InvalidCondition(
                path,
                _("A condition may hold at most %(max)d conditions.") % {"max": MAX_CONDITIONS},
            )
        _check_leaf(node, path)


def _check_group(node: dict, path: str, *, depth: int, count: list[int]) -> None:
    if depth > MAX_DEPTH:
        raise InvalidCondition(
            path, _("Groups may be nested at most %(max)d deep.") % {"max": MAX_DEPTH}
        )
    unknown = set(node) - {"logicalOperator", "conditions"}
    if unknown:
        raise InvalidCondition(
            path, _("Unknown keys: %(keys)s.") % {"keys": ", ".join(sorted(map(str, unknown)))}
        )
    operator = node.get("logicalOperator", "and")
    if operator not in LOGICAL_OPERATORS:
        raise InvalidCondition(
            f"{path}.logicalOperator", _('Use "and" or "or" as the logical operator.')
        )
    node["logicalOperator"] = operator
    children = node.get("conditions")
    if not isinstance(children, list) or not children:
        raise InvalidCondition(
            f"{path}.conditions", _("A group needs a list of one or more conditions.")
        )
    for index, child in enumerate(children):
        _check(child, f"{path}.conditions[{index}]", depth=depth + 1, count=count)


def _check_leaf(node: dict, path: str) -> None:
    unknown = set(node) - {"field", "operator", "value"}
    if unknown:
        raise InvalidCondition(
            path, _("Unknown keys: %(keys)s.") % {"keys": ", ".join(sorted(map(str, unknown)))}
        )
    fields = condition_fields()
    name = node.get("field")
    field = fields.get(name) if isinstance(name, str) else None
    if field is None:
        raise InvalidCondition(
            f"{path}.field",
            _("Unknown field %(field)s; use one of: %(fields)s.")
            % {"field": repr(name), "fields": ", ".join(fields)},
        )
    operator = node.get("operator")
    if operator not in field.operators:
        raise InvalidCondition(
            f"{path}.operator",
            _("%(field)s takes the operators %(operators)s, not %(operator)s.")
            % {"field": name, "operators": ", ".join(field.operators), "operator": repr(operator)},
        )
    if "value" not in node:
        raise InvalidCondition(f"{path}.value", _("Give the value to compare with."))
    try:
        field.clean(operator, node["value"])
    except BadValue as error:
        raise InvalidCondition(f"{path}.value", str(error)) from None


def _compile(node: dict, path: str) -> Q:
    if "conditions" in node:
        parts = [
            _compile(child, f"{path}.conditions[{index}]")
            for index, child in enumerate(node["conditions"])
        ]
        combined = parts[0]
        for part in parts[1:]:
            combined = combined & part if node["logicalOperator"] == "and" else combined | part
        return combined
    field = condition_fields()[node["field"]]
    value = field.clean(node["operator"], node["value"])
    try:
        return field.to_q(node["operator"], value)
    except BadValue as error:
        raise InvalidCondition(f"{path}.value", str(error)) from None
