"""The staff site: Django's default `admin.site`, titled for the CRM, with a dashboard index.

We keep `django.contrib.admin.site` (no custom AdminSite class, so no settings change and every
app's `admin.py` registers as usual) and wrap its `index` view once, so that the index template
(templates/admin/index.html) receives the dashboard cards. Apps contribute cards through
`register_dashboard`, and links for the header of every page through `register_header_links`:
the core never imports the apps that fill them (DESIGN.md, "which app may import which").
"""

from collections.abc import Callable
from functools import wraps

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

# Each provider takes the request and returns a list of cards (dicts the template renders), or
# an empty list when the user may not see them.
DashboardProvider = Callable[[object], list[dict]]

_providers: list[DashboardProvider] = []

# Each takes the request and returns links for the header of every admin page (a count of what
# waits for the user), [] when there is nothing to show; keep them to one cheap query.
HeaderLinksProvider = Callable[[object], list[dict]]

_header_providers: list[HeaderLinksProvider] = []


def register_dashboard(provider: DashboardProvider) -> DashboardProvider:
    """Add a provider of dashboard cards to the admin index; usable as a decorator."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def register_header_links(provider: HeaderLinksProvider) -> HeaderLinksProvider:
    """Add a provider of header links ({"label", "url", "count", "urgent"}); a decorator too."""
    if provider not in _header_providers:
        _header_providers.append(provider)
    return provider


def header_links(request) -> list[dict]:
    if not getattr(request.user, "is_staff", False):
        return []
    links = []
    for provider in _header_providers:
        links.extend(provider(request))
    return links


def dashboard_cards(request) -> list[dict]:
    cards = []
    for provider in _providers:
        cards.extend(provider(request))
    return cards


def install(site: admin.AdminSite = admin.site) -> None:
    """Title the site and make its index a dashboard. Idempotent."""
    site.site_header = _("Restaurant CRM")
    site.site_title = _("Restaurant CRM")
    site.index_title = _("Customer management")
    if getattr(site.index, "crm_dashboard", False):
        return
    original_index = site.index

    @wraps(original_index)
    def index(request, extra_context=None):
        context = {"dashboard_cards": dashboard_cards(request), **(extra_context or {})}
        return original_index(request, extra_context=context)

    index.crm_dashboard = True
    # An instance attribute: AdminSite.get_urls() wraps `self.index`, read when the URLconf loads,
    # which is after every app's admin module (and so this call) has been imported.
    site.index = index
    _install_login_form(site)


def _install_login_form(site: admin.AdminSite) -> None:
    # The login form that tells a locked-out user how long to wait (crm.auth.forms).
    from crm.auth.forms import LockoutAdminAuthenticationForm

    site.login_form = LockoutAdminAuthenticationForm
