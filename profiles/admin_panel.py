"""The "Portrait" tab of the admin customer page (customers.panels): the portrait of spec 2.4
as profiles.services.portraits reads it, with codes turned into names and the period
comparison as bars. A fixed number of queries, whatever the customer's history."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from customers.models import OrderChannel, PaymentMethod
from customers.selectors import customer_profile_tags
from profiles.models import DeviceClass, EventChannel, Frequency, IncomeBand, Occupation
from profiles.roles import ANNOTATE
from profiles.services.portraits import portrait

PERIOD_NAMES = {
    "current": _("this period"),
    "previous_period": _("the period before"),
    "same_period_last_year": _("same period last year"),
}
DAYPARTS = {
    "morning": _("mornings"),
    "lunchtime": _("lunchtime"),
    "afternoon": _("afternoons"),
    "evening": _("evenings"),
    "late_night": _("late at night"),
    "weekday": _("weekdays"),
    "weekend": _("weekends"),
}


def _names(choices, codes) -> list[str]:
    labels = dict(choices)
    return [str(labels.get(code, code)) for code in codes]


def _name(choices, code) -> str:
    return str(dict(choices).get(code, code)) if code else ""


def portrait_panel(request, customer) -> dict:
    facts = portrait(customer)
    profile = facts["profile"]
    comparison = facts["comparison"]
    periods = [(key, comparison[key]) for key in PERIOD_NAMES]
    most = max((figures["spent"] for _key, figures in periods), default=0) or 1
    return {
        "facts": facts,
        "profile": profile,
        "occupation": _name(Occupation.choices, facts["occupation"]["value"]),
        "income": _name(IncomeBand.choices, facts["income"]["value"]),
        "frequency": _name(Frequency.choices, profile.frequency),
        "payments": _names(PaymentMethod.choices, profile.payment_preferences),
        "order_channel": _name(OrderChannel.choices, profile.preferred_order_channel),
        "channel": _name(EventChannel.choices, profile.preferred_channel),
        "device": _name(DeviceClass.choices, profile.device),
        "pattern": [str(DAYPARTS.get(code, code)) for code in profile.browsing_pattern],
        "days": comparison["days"],
        "periods": [
            {"name": PERIOD_NAMES[key], "share": figures["spent"] / most, **figures}
            for key, figures in periods
        ],
        "tags": customer_profile_tags(customer.pk),
        "annotate_url": (
            reverse("admin:profiles_customerprofile_change", args=[customer.pk])
            if request.user.has_perm(ANNOTATE)
            else None
        ),
    }
