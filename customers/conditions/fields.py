"""The fields a customer condition may name (spec 5.3), each with its kind and its SQL.

A condition `{"field": "totalSpent", "operator": "gte", "value": 10000}` names a ConditionField by
its API name. The field's kind says which operators it takes and how a value is checked; its
`to_q(operator, value)` returns the Django Q object that selects the matching customers, so a
whole condition tree becomes one SQL query (customers.conditions.compiler).

The core's own fields are below. Other apps add theirs with `register_condition_field` from
their AppConfig.ready (segments: the RFM tier and class; later churn and portraits), because
the core never imports them (DESIGN.md, "Which app may import which").

Missing values: a comparison never matches a customer without the value (no birthday, no
order yet); `ne` matches them (a customer without a birthday is not born in May).
"""

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.levels import level_choices
from customers.models import Address, CustomerSource, CustomerStatus, CustomerTag, Gender, Tag

MAX_IN_VALUES = 100
MAX_DAYS = 36_500
MAX_NUMBER = 2_147_483_647
MAX_MONEY = Decimal("999999999999.99")
MAX_TEXT = 100
# Dates a condition may name: far beyond any customer's, yet clear of the ends of Python's
# calendar, where a day's midnight in the site's time zone cannot be computed.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)
MAX_AGE = 150


class Kind(StrEnum):
    NUMBER = "number"
    MONEY = "money"
    DATE = "date"
    DATETIME = "datetime"
    CHOICE = "choice"
    TEXT = "text"
    TAGS = "tags"
    MONTH = "month"


COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "between")
RELATIVE = ("within_days", "before_days")
OPERATORS = {
    Kind.NUMBER: (*COMPARISONS, "in"),
    Kind.MONEY: COMPARISONS,
    Kind.DATE: (*COMPARISONS, *RELATIVE),
    Kind.DATETIME: (*COMPARISONS, *RELATIVE),
    Kind.CHOICE: ("eq", "ne", "in"),
    Kind.TEXT: ("eq", "ne", "contains", "in"),
    Kind.TAGS: ("contains", "not_contains", "in"),
    Kind.MONTH: ("eq", "ne", "in", "between"),
}


class BadValue(ValueError):
    """A value that does not fit its field; the message says what would."""


@dataclass(frozen=True)
class ConditionField:
    name: str
    label: str
    kind: Kind
    # (operator, cleaned value) -> Q over Customer.
    to_q: Callable[[str, Any], Q]
    # For choice fields: () -> [(value, label)], read when used (tiers change in the admin).
    choices: Callable[[], list[tuple[str, str]]] | None = None
    group: str = "profile"
    # For number fields: the values that make sense (an age of 200 years does not).
    low: int = -MAX_NUMBER
    high: int = MAX_NUMBER

    @property
    def operators(self) -> tuple[str, ...]:
        return OPERATORS[self.kind]

    def clean(self, operator: str, value):
        """The value as to_q takes it; raises BadValue saying what the field expects."""
        if operator in ("in",):
            if not isinstance(value, list) or not value or len(value) > MAX_IN_VALUES:
                raise BadValue(
                    _("'in' takes a list of 1 to %(max)d values.") % {"max": MAX_IN_VALUES}
                )
            return [self._one(item) for item in value]
        if operator == "between":
            if not isinstance(value, list) or len(value) != 2:
                raise BadValue(_("'between' takes a list of two values, [from, to]."))
            low, high = (self._one(item) for item in value)
            if low > high:
                raise BadValue(_("'between' takes the smaller value first."))
            return [low, high]
        if operator in RELATIVE:
            return _whole_number(value, 0, MAX_DAYS)
        return self._one(value)

    def _one(self, value):
        if self.kind == Kind.NUMBER:
            return _whole_number(value, self.low, self.high)
        if self.kind == Kind.MONTH:
            return _whole_number(value, 1, 12)
        if self.kind == Kind.MONEY:
            return _money(value)
        if self.kind in (Kind.DATE, Kind.DATETIME):
            return _date(value)
        if self.kind == Kind.CHOICE:
            allowed = [code for code, _label in self.choices()]
            if value not in allowed:
                raise BadValue(_("Choose one of: %(choices)s.") % {"choices": ", ".join(allowed)})
            return value
        return _text(value)


def _whole_number(value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadValue(
            _("Give a whole number from %(low)s to %(high)s.") % {"low": low, "high": high}
        )
    return value


def _money(value) -> Decimal:
    try:
        amount = Decimal(str(value)) if not isinstance(value, bool) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or not 0 <= amount <= MAX_MONEY:
        raise BadValue(_("Give an amount from 0 to %(max)s yuan.") % {"max": MAX_MONEY})
    return amount.quantize(Decimal("0.01"))


def _date(value) -> date:
    try:
        day = date.fromisoformat(value)
    except (TypeError, ValueError):
        raise BadValue(_("Give a date as YYYY-MM-DD, such as 2025-01-31.")) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadValue(
            _("Give a date from %(first)s to %(last)s.") % {"first": FIRST_DAY, "last": LAST_DAY}
        )
    return day


def _text(value) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise BadValue(_("Give a text of 1 to %(max)d characters.") % {"max": MAX_TEXT})
    return value.strip()


# --- SQL -----------------------------------------------------------------------------------

LOOKUPS = {"gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte", "eq": "exact", "in": "in"}


def column_q(column: str) -> Callable[[str, Any], Q]:
    """Comparisons on one column (numbers, amounts, dates, choices, texts)."""

    def to_q(operator: str, value) -> Q:
        if operator == "ne":
            return ~Q(**{column: value})
        if operator == "between":
            return Q(**{f"{column}__gte": value[0], f"{column}__lte": value[1]})
        if operator == "contains":
            return Q(**{f"{column}__icontains": value})
        if operator in RELATIVE:
            return _relative(column, operator, timezone.localdate() - timedelta(days=value))
        return Q(**{f"{column}__{LOOKUPS[operator]}": value})

    return to_q


def _relative(column: str, operator: str, day) -> Q:
    """within_days: on or after `day`; before_days: before it."""
    return Q(**{f"{column}__{'gte' if operator == 'within_days' else 'lt'}": day})


def moment_q(column: str) -> Callable[[str, Any], Q]:
    """Comparisons of a timestamp column with days of the site's time zone: `lte 2025-01-31`
    holds the whole of the 31st. Each becomes a range over the column, so its index serves."""

    def to_q(operator: str, value) -> Q:
        if operator == "between":
            low, high = value
            return Q(**{f"{column}__gte": _midnight(low), f"{column}__lt": _midnight_after(high)})
        if operator in RELATIVE:
            return _relative(column, operator, _midnight(timezone.localdate() - timedelta(value)))
        day = value
        whole_day = Q(**{f"{column}__gte": _midnight(day), f"{column}__lt": _midnight_after(day)})
        return {
            "eq": whole_day,
            "ne": ~whole_day,
            "gt": Q(**{f"{column}__gte": _midnight_after(day)}),
            "gte": Q(**{f"{column}__gte": _midnight(day)}),
            "lt": Q(**{f"{column}__lt": _midnight(day)}),
            "lte": Q(**{f"{column}__lt": _midnight_after(day)}),
        }[operator]

    return to_q


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _midnight_after(day: date) -> datetime:
    return _midnight(day + timedelta(days=1))


def years_before(day: date, years: int) -> date:
    """The same day `years` earlier; 29 February becomes the 28th in a common year."""
    year = day.year - years
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))


def age_q(operator: str, value) -> Q:
    """Age in whole years today, as ranges over the birthday: aged N means born after the day
    N + 1 years ago and on or before the day N years ago."""
    today = timezone.localdate()

    def at_least(years):  # age >= years
        return Q(birthday__lte=years_before(today, years))

    def at_most(years):  # age <= years
        return Q(birthday__gt=years_before(today, years + 1))

    def exactly(years):
        return at_least(years) & at_most(years)

    if operator == "in":
        condition = Q(pk__in=[])
        for years in value:
            condition |= exactly(years)
        return condition
    return {
        "eq": lambda: exactly(value),
        "ne": lambda: ~exactly(value),
        "gt": lambda: at_least(value + 1),
        "gte": lambda: at_least(value),
        "lt": lambda: at_most(value - 1),
        "lte": lambda: at_most(value),
        "between": lambda: at_least(value[0]) & at_most(value[1]),
    }[operator]()


def city_q(operator: str, value) -> Q:
    """The city of the customer's default address."""
    column_condition = column_q("city")(operator, value)
    if operator == "ne":
        # Not in this city: customers without a default address in it, none at all included.
        return ~Exists(_default_address().filter(city=value))
    return Exists(_default_address().filter(column_condition))


def _default_address():
    return Address.objects.filter(customer=OuterRef("pk"), is_default=True)


def tags_q(operator: str, value) -> Q:
    """contains: has the tag or one of its descendants; not_contains: has neither (so that
    "美食爱好者 and not 价格敏感" is one condition, spec 支持标签组合); in: has any of the tags
    named."""
    names = value if isinstance(value, list) else [value]
    ids, with_descendants = Tag.objects.named_with_descendants(names)
    unknown = [name for name in names if name not in ids]
    if unknown:
        raise BadValue(_("No tag named %(names)s.") % {"names": ", ".join(unknown)})
    wanted = with_descendants if operator != "in" else set(ids.values())
    tagged = Exists(CustomerTag.objects.filter(customer=OuterRef("pk"), tag_id__in=wanted))
    return ~Q(tagged) if operator == "not_contains" else Q(tagged)


def month_q(operator: str, value) -> Q:
    return column_q("birthday__month")(operator, value)


def _choices(choices) -> Callable[[], list[tuple[str, str]]]:
    return lambda: list(choices)


CORE_FIELDS = [
    ConditionField(
        "level", gettext_lazy("Level"), Kind.CHOICE, column_q("level"), level_choices, "profile"
    ),
    ConditionField(
        "status",
        gettext_lazy("Status"),
        Kind.CHOICE,
        column_q("status"),
        _choices(CustomerStatus.choices),
    ),
    ConditionField(
        "source",
        gettext_lazy("Source"),
        Kind.CHOICE,
        column_q("source"),
        _choices(CustomerSource.choices),
    ),
    ConditionField(
        "gender", gettext_lazy("Gender"), Kind.CHOICE, column_q("gender"), _choices(Gender.choices)
    ),
    ConditionField("age", gettext_lazy("Age"), Kind.NUMBER, age_q, low=0, high=MAX_AGE),
    ConditionField("birthdayMonth", gettext_lazy("Birthday month"), Kind.MONTH, month_q),
    ConditionField("city", gettext_lazy("City (default address)"), Kind.TEXT, city_q),
    ConditionField(
        "registerDate", gettext_lazy("Registration date"), Kind.DATE, column_q("register_date")
    ),
    ConditionField("createdAt", gettext_lazy("Created"), Kind.DATETIME, moment_q("created_at")),
    ConditionField("tags", gettext_lazy("Tags"), Kind.TAGS, tags_q),
    ConditionField(
        "totalSpent",
        gettext_lazy("Total spent"),
        Kind.MONEY,
        column_q("total_spent"),
        group="consumption",
    ),
    ConditionField(
        "orderCount",
        gettext_lazy("Orders"),
        Kind.NUMBER,
        column_q("order_count"),
        group="consumption",
        low=0,
    ),
    ConditionField(
        "avgOrderValue",
        gettext_lazy("Average order value"),
        Kind.MONEY,
        column_q("avg_order_value"),
        group="consumption",
    ),
    ConditionField(
        "lastOrderDate",
        gettext_lazy("Last order"),
        Kind.DATETIME,
        moment_q("last_order_date"),
        group="consumption",
    ),
    ConditionField(
        "points",
        gettext_lazy("Points"),
        Kind.NUMBER,
        column_q("points"),
        group="consumption",
        low=0,
    ),
]

_registered: dict[str, ConditionField] = {}


def register_condition_field(field: ConditionField) -> None:
    """Add a field that conditions may name; call it from an AppConfig.ready. A name is
    registered once: a second field under a taken name is a programming error."""
    taken = {f.name for f in CORE_FIELDS} | set(_registered)
    if field.name in taken and _registered.get(field.name) != field:
        raise ValueError(f"The condition field {field.name!r} is already registered.")
    _registered[field.name] = field


def condition_fields() -> dict[str, ConditionField]:
    """Every field by API name: the core's, then the registered ones."""
    return {field.name: field for field in [*CORE_FIELDS, *_registered.values()]}
