from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self):
        # What the core contributes to the kernel's registries (docs/architecture.md,
        # "Extension points"): its audit actions, its role permissions, its dashboard cards and
        # header links.
        from crm.admin_site import register_dashboard, register_header_links
        from crm.audit_actions import register_audit_actions
        from crm.roles import register_role_permissions
        from customers.admin.follow_up_links import (
            follow_up_dashboard_cards,
            follow_up_header_links,
        )
        from customers.admin.kpi_cards import customer_kpi_cards
        from customers.audit_actions import CustomerAuditAction
        from customers.roles import CUSTOMER_ROLE_PERMISSIONS

        register_audit_actions(CustomerAuditAction)
        register_role_permissions(CUSTOMER_ROLE_PERMISSIONS)
        register_dashboard(customer_kpi_cards)
        register_dashboard(follow_up_dashboard_cards)
        register_header_links(follow_up_header_links)
