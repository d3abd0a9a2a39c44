"""Staff screens for membership (spec 2.2): tiers, members, points, tier changes and benefit
usage, and the customer page's "Membership" tab (panel). Every write goes through
membership.services, so the admin obeys the rules of the API, and each service records its audit
event. Django's autodiscovery imports this package, which registers them."""

from membership.admin import history, members, points, tiers  # noqa: F401 (they register)
