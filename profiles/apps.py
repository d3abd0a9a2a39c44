from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProfilesConfig(AppConfig):
    name = "profiles"
    verbose_name = _("Profiles")

    def ready(self):
        # Profiles extends the core only through its registries (docs/architecture.md,
        # "Extension points"): the core never imports this app.
        from crm.roles import register_role_permissions
        from customers.conditions import register_condition_field
        from customers.hooks import register_erasure_hook, register_order_hook
        from customers.panels import register_customer_panel
        from profiles.admin_panel import portrait_panel
        from profiles.conditions import PORTRAIT_FIELDS
        from profiles.roles import PROFILES_ROLE_PERMISSIONS, VIEW
        from profiles.services import portraits
        from profiles.services.events import erase_customer_events

        register_role_permissions(PROFILES_ROLE_PERMISSIONS)
        for field in PORTRAIT_FIELDS:
            register_condition_field(field)
        register_order_hook("recorded", portraits.on_order_recorded)
        register_order_hook("refunded", portraits.on_order_refunded)
        register_erasure_hook(erase_customer_events)
        register_erasure_hook(portraits.erase_customer_portrait)
        register_customer_panel(
            key="portrait",
            title=_("Portrait"),
            template="admin/profiles/customer_panel.html",
            context=portrait_panel,
            permission=VIEW,
        )
