"""What waits for staff about follow-ups (spec 2.5.4 支持回访提醒), on every admin page's header
and on the home page: the user's follow-ups due by the end of today (overdue ones flagged), and
for those who may take them over, the team's overdue ones. One query (follow_up_counts)."""

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from customers.admin.communications import TEAM_OVERDUE
from customers.selectors import follow_up_counts
from customers.services.follow_ups import CHANGE_PERMISSION, VIEW_PERMISSION


def follow_up_header_links(request) -> list[dict]:
    counts = _counts(request)
    if counts is None:
        return []
    links = []
    if counts["mine"]:
        links.append(
            {
                "label": ngettext("follow-up due", "follow-ups due", counts["mine"]),
                "count": counts["mine"],
                "urgent": counts["mine_overdue"] > 0,
                "url": _list_url("by_today"),
            }
        )
    if counts.get("team_overdue"):
        links.append(
            {
                "label": _("overdue in the team"),
                "count": counts["team_overdue"],
                "urgent": True,
                "url": _list_url(TEAM_OVERDUE),
            }
        )
    return links


def follow_up_dashboard_cards(request) -> list[dict]:
    counts = _counts(request)
    if counts is None:
        return []
    overdue = ngettext("%(count)d overdue", "%(count)d overdue", counts["mine_overdue"]) % {
        "count": counts["mine_overdue"]
    }
    return [
        {
            "key": "follow_ups",
            "label": _("My follow-ups due by today"),
            "period": overdue,
            "value": counts["mine"],
            "value_text": f"{counts['mine']:,}",
            "change_text": "",
            "direction": "flat",
            "url": _list_url("by_today"),
        }
    ]


def _counts(request) -> dict | None:
    user = request.user
    if not user.has_perm(VIEW_PERMISSION):
        return None
    # One query per page, shared by the header and the home page's card.
    cached = getattr(request, "_crm_follow_up_counts", None)
    if cached is None:
        cached = follow_up_counts(user)
        if not user.has_perm(CHANGE_PERMISSION):
            cached.pop("team_overdue")
        request._crm_follow_up_counts = cached
    return cached


def _list_url(choice: str) -> str:
    return f"{reverse('admin:customers_communication_changelist')}?follow_up={choice}"
