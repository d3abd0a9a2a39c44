"""The admin dashboard's customer cards (spec 6.1): total, new, VIP and active rate."""

from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from customers import kpis

# --- dashboard (spec 6.1) ------------------------------------------------------------------

KPI_CARDS = {
    "total": (_("Total customers"), _("vs. 30 days ago")),
    "new": (_("New customers"), _("last 30 days vs. the 30 before")),
    "vip": (_("VIP customers"), _("vs. 30 days ago")),
    "active_rate": (_("Active rate"), _("ordered in the last 90 days")),
}


def customer_kpi_cards(request) -> list[dict]:
    if not request.user.has_perm("customers.view_customer"):
        return []
    cards = []
    for kpi in kpis.customer_kpis():
        label, period = KPI_CARDS[kpi.key]
        cards.append(
            {
                "key": kpi.key,
                "label": label,
                "period": period,
                "value": kpi.value,
                "value_text": f"{kpi.value}%" if kpi.is_rate else f"{kpi.value:,}",
                "change": kpi.change,
                "change_text": _change_text(kpi),
                "direction": _direction(kpi.change),
                "is_rate": kpi.is_rate,
                "url": _kpi_url(kpi.key),
            }
        )
    return cards


def _change_text(kpi) -> str:
    if kpi.change is None:
        return ""
    amount = formats.number_format(abs(kpi.change), 1)
    if kpi.is_rate:
        return gettext("%(points)s pp") % {"points": amount}
    return f"{amount}%"


def _direction(change) -> str:
    if not change:
        return "flat"
    return "up" if change > 0 else "down"


def _kpi_url(key: str) -> str:
    url = reverse("admin:customers_customer_changelist")
    if key == "vip":
        return url + "?level__exact=vip&level__exact=svip"
    if key == "new":
        start = timezone.localdate() - kpis.PERIOD
        return url + f"?register_from={start.isoformat()}"
    return url
