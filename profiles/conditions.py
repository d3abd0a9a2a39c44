"""What profiles adds to the core's condition engine (customers.conditions), registered in
ProfilesConfig.ready: portrait fields that segments and tag rules may name, so that a rule such
as "favourite category 川菜 and frequency weekly" tags a 川菜 regular (spec 2.4.4 自动标签).

Each field reads the customer's portrait row; a customer without one (no orders, no events)
meets none of the positive conditions and every "ne"."""

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from customers.conditions import ConditionField, Kind
from profiles.models import CustomerProfile, EventChannel, Frequency, IncomeBand, Occupation


def _portrait_q(positive):
    """A to_q from `positive(operator, value) -> Q over CustomerProfile` for eq/in/contains;
    "ne" is "not eq", so customers without a portrait are included."""

    def to_q(operator: str, value) -> Q:
        portraits = CustomerProfile.objects.filter(customer=OuterRef("pk"))
        if operator == "ne":
            return ~Exists(portraits.filter(positive("eq", value)))
        return Q(Exists(portraits.filter(positive(operator, value))))

    return to_q


def _manual_or_inferred(field: str):
    """The value staff set, else the inferred one, as the portrait shows it."""

    def positive(operator: str, value) -> Q:
        lookup = "in" if operator == "in" else "exact"
        manual = Q(**{f"{field}_manual__{lookup}": value})
        return manual | (Q(**{f"{field}_manual": ""}) & Q(**{f"{field}_inferred__{lookup}": value}))

    return positive


def _column(field: str):
    def positive(operator: str, value) -> Q:
        return Q(**{f"{field}__{'in' if operator == 'in' else 'exact'}": value})

    return positive


def _among(field: str):
    """A top-N list holds the value (eq, contains) or one of the values (in)."""

    def positive(operator: str, value) -> Q:
        if operator == "in":
            return Q(**{f"{field}__overlap": value})
        return Q(**{f"{field}__contains": [value]})

    return positive


def _choices(choices):
    return lambda: list(choices)


PORTRAIT_FIELDS = [
    ConditionField(
        "occupation",
        _("Occupation (portrait)"),
        Kind.CHOICE,
        _portrait_q(_manual_or_inferred("occupation")),
        _choices(Occupation.choices),
        group="portrait",
    ),
    ConditionField(
        "income",
        _("Income (portrait)"),
        Kind.CHOICE,
        _portrait_q(_manual_or_inferred("income")),
        _choices(IncomeBand.choices),
        group="portrait",
    ),
    ConditionField(
        "frequency",
        _("Frequency (portrait)"),
        Kind.CHOICE,
        _portrait_q(_column("frequency")),
        _choices(Frequency.choices),
        group="portrait",
    ),
    ConditionField(
        "preferredChannel",
        _("Preferred channel (portrait)"),
        Kind.CHOICE,
        _portrait_q(_column("preferred_channel")),
        _choices(EventChannel.choices),
        group="portrait",
    ),
    ConditionField(
        "favoriteCategory",
        _("Favourite category (portrait)"),
        Kind.TEXT,
        _portrait_q(_among("favourite_categories")),
        group="portrait",
    ),
    ConditionField(
        "favoriteDish",
        _("Favourite dish (portrait)"),
        Kind.TEXT,
        _portrait_q(_among("favourite_dishes")),
        group="portrait",
    ),
]
