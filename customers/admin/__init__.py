"""The staff screens of the core, one module per screen: the customer list's filters
(changelist) and batch actions (actions), the customer page (customer), tags and addresses
(addresses), communications, the dashboard's KPI cards (kpi_cards), import and export, and the
forms they share (forms). Django's autodiscovery imports this package, which registers them."""

from customers.admin import addresses, communications, customer  # noqa: F401 (they register)
