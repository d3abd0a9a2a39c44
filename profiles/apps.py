from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProfilesConfig(AppConfig):
    name = "profiles"
    verbose_name = _("Profiles")

    def ready(self):
        # Profiles extends the core only through its registries: the core never imports it.
        from crm.roles import register_role_permissions
        from profiles.roles import PROFILES_ROLE_PERMISSIONS

        register_role_permissions(PROFILES_ROLE_PERMISSIONS)
