from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self):
        from crm.admin_site import register_dashboard
        from customers.admin.kpi_cards import customer_kpi_cards

        register_dashboard(customer_kpi_cards)
