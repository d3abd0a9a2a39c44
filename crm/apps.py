from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Administration")

    def ready(self):
        from django.contrib import admin
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
        from django.db.models.signals import m2m_changed, post_migrate, post_save, pre_save

        from crm import admin_site, checks, signals  # noqa: F401 (checks registers itself)
        from crm.api import schema  # noqa: F401 (registers its drf-spectacular extension)

        admin_site.install(admin.site)

        user_model = get_user_model()
        user_logged_in.connect(signals.on_user_logged_in, dispatch_uid="crm_audit_login")
        user_logged_out.connect(signals.on_user_logged_out, dispatch_uid="crm_audit_logout")
        user_login_failed.connect(
            signals.on_user_login_failed, dispatch_uid="crm_audit_login_failed"
        )
        for through in (
            user_model.groups.through,
            user_model.user_permissions.through,
            Group.permissions.through,
        ):
            m2m_changed.connect(
                signals.on_m2m_changed,
                sender=through,
                dispatch_uid=f"crm_audit_{through._meta.label}",
            )
        pre_save.connect(
            signals.remember_power_flags, sender=user_model, dispatch_uid="crm_audit_flags_pre"
        )
        post_save.connect(
            signals.audit_power_flags, sender=user_model, dispatch_uid="crm_audit_flags"
        )
        # Sender-agnostic: the receiver acts once, on the last app's signal, after every app's
        # permissions have been created by django.contrib.auth's own post_migrate receiver.
        post_migrate.connect(signals.sync_roles_after_migrate, dispatch_uid="crm_sync_roles")
