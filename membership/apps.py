from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembershipConfig(AppConfig):
    name = "membership"
    verbose_name = _("Membership")

    def ready(self):
        # Membership extends the core only through its registries (docs/architecture.md,
        # "Extension points"): the core never imports this app.
        from crm.audit_actions import register_audit_actions
        from crm.roles import register_role_permissions
        from customers.hooks import register_order_hook
        from customers.levels import register_level_choices
        from customers.panels import register_customer_panel
        from membership.admin.panel import membership_panel
        from membership.audit_actions import MembershipAuditAction
        from membership.roles import MEMBERSHIP_ROLE_PERMISSIONS
        from membership.services.levels import level_choices
        from membership.services.orders import on_order_recorded, on_order_refunded
        from membership.services.redemption import link_held_redemptions

        register_audit_actions(MembershipAuditAction)
        register_role_permissions(MEMBERSHIP_ROLE_PERMISSIONS)
        register_level_choices(level_choices)
        register_order_hook("recording", link_held_redemptions)
        register_order_hook("recorded", on_order_recorded)
        register_order_hook("refunded", on_order_refunded)
        register_customer_panel(
            key="membership",
            title=_("Membership"),
            template="admin/membership/customer_panel.html",
            context=membership_panel,
            permission="membership.view_membership",
        )
