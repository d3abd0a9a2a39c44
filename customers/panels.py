"""Extra tabs on the admin customer page, contributed by other apps.

The customer page (customers/admin/customer.py, templates/admin/customers/customer/
change_form.html) shows what the core owns. What another app owns (membership's tier and points,
later the portrait) it shows through this registry, because the core never imports those apps
(DESIGN.md). An app registers its panel once, from its AppConfig.ready:

    register_customer_panel(
        key="membership",
        title=_("Membership"),
        template="admin/membership/customer_panel.html",
        context=membership_panel,          # fn(request, customer) -> dict
        permission="membership.view_membership",
    )

The page shows each panel the user may see as one more tab, in registration order. The panel's
template is included with the page's context plus `data`, what `context(request, customer)`
returned. Each panel's queries add to the page's, so keep them few and independent of the
number of rows shown.
"""

from collections.abc import Callable
from dataclasses import dataclass

PanelContext = Callable[[object, object], dict]


@dataclass(frozen=True)
class CustomerPanel:
    key: str
    title: str
    template: str
    context: PanelContext
    permission: str | None = None


_panels: dict[str, CustomerPanel] = {}


def register_customer_panel(
    *,
    key: str,
    title: str,
    template: str,
    context: PanelContext,
    permission: str | None = None,
) -> None:
    """Add a tab named `key` (letters, digits, - and _: it is part of the tab's HTML id and of
    the page's #tab-<key> link). Registering a key again replaces its panel."""
    if not key.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"Customer panel key {key!r}: use letters, digits, - and _.")
    _panels[key] = CustomerPanel(key, title, template, context, permission)


def customer_panels(request, customer) -> list[dict]:
    """The panels `request.user` may see, each as {"key", "title", "template", "data"}."""
    return [
        {
            "key": panel.key,
            "title": panel.title,
            "template": panel.template,
            "data": panel.context(request, customer),
        }
        for panel in _panels.values()
        if panel.permission is None or request.user.has_perm(panel.permission)
    ]
