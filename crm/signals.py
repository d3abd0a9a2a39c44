"""Receivers for what Django itself announces and we must audit: logins, logouts and permission
changes.

They are connected in CrmConfig.ready(). Our own services record their events explicitly; signals
are used only where Django, not our code, makes the change.
"""

import logging

from django.apps import apps as global_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from crm.audit import record_event
from crm.audit_actions import AuditAction
from crm.request_context import client_ip, current_request

logger = logging.getLogger(__name__)

USERNAME_MAX_LENGTH = 150
# The flags that grant power on their own, outside groups and permissions.
POWER_FLAGS = ("is_superuser", "is_staff", "is_active")


def _request_actor():
    request = current_request()
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _ip(request):
    return client_ip(request) if request is not None else None


def on_user_logged_in(sender, request, user, **kwargs):
    record_event(action=AuditAction.LOGIN_SUCCESS, actor=user, obj=user, ip=_ip(request))


def on_user_logged_out(sender, request, user, **kwargs):
    # `user` is None when the session had no logged-in user: nothing to record.
    if user is not None:
        record_event(action=AuditAction.LOGOUT, actor=user, obj=user, ip=_ip(request))


def on_user_login_failed(sender, credentials, request=None, **kwargs):
    from crm.auth import lockout

    # Django has already replaced the password in `credentials`; we keep only the username.
    username_field = get_user_model().USERNAME_FIELD
    username = str(credentials.get(username_field) or credentials.get("username") or "")
    ip = _ip(request)
    record_event(
        action=AuditAction.LOGIN_FAILURE,
        summary={
            "username": username[:USERNAME_MAX_LENGTH],
            "locked": lockout.is_locked(username=username, ip=ip),
        },
        ip=ip,
    )


def on_m2m_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    """User.groups, User.user_permissions and Group.permissions, changed from either side."""
    if action == "pre_clear":
        # After the clear the rows are gone: remember what is about to be removed.
        instance._crm_cleared_pks = _related_pks(sender, instance, model)
        return
    if action not in {"post_add", "post_remove", "post_clear"}:
        return
    if action == "post_clear":
        pk_set = instance.__dict__.pop("_crm_cleared_pks", ())
    if not pk_set:
        return
    related = model._default_manager.filter(pk__in=pk_set)
    if model is Permission:
        related = related.select_related("content_type")
    record_event(
        action=AuditAction.PERMISSION_CHANGE,
        actor=_request_actor(),
        obj=instance,
        summary={
            "field": _field_name(sender),
            "change": "added" if action == "post_add" else "removed",
            f"{model._meta.model_name}s": _names(related),
        },
    )


def _related_pks(through, instance, model) -> list:
    def foreign_key_to(target):
        return next(
            field
            for field in through._meta.get_fields()
            if field.many_to_one and field.related_model._meta.concrete_model is target
        )

    source = foreign_key_to(instance._meta.concrete_model)
    target = foreign_key_to(model._meta.concrete_model)
    rows = through._default_manager.filter(**{source.attname: instance.pk})
    return list(rows.values_list(target.attname, flat=True))


def _field_name(sender) -> str:
    user_model = get_user_model()
    return {
        user_model.groups.through: "groups",
        user_model.user_permissions.through: "user_permissions",
        Group.permissions.through: "group_permissions",
    }[sender]


def _names(objects) -> list[str]:
    names = []
    for obj in objects:
        if isinstance(obj, Permission):
            names.append(f"{obj.content_type.app_label}.{obj.codename}")
        elif hasattr(obj, "get_username"):
            names.append(obj.get_username())
        else:
            names.append(str(obj))
    return sorted(names)


def remember_power_flags(sender, instance, raw=False, update_fields=None, **kwargs):
    """Before a user is saved, note the flags it had, so post_save can audit a change."""
    if raw or instance.pk is None:
        return
    if update_fields is not None and not set(update_fields) & set(POWER_FLAGS):
        return  # e.g. the last_login update at every login: no extra query
    previous = sender._default_manager.filter(pk=instance.pk).values(*POWER_FLAGS).first()
    instance._crm_power_flags = previous


def audit_power_flags(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    previous = getattr(instance, "_crm_power_flags", None)
    instance._crm_power_flags = None
    if created:
        flags = {flag: getattr(instance, flag) for flag in POWER_FLAGS if getattr(instance, flag)}
        changed = {flag: [False, value] for flag, value in flags.items() if flag != "is_active"}
    elif previous is None:
        return
    else:
        changed = {
            flag: [previous[flag], getattr(instance, flag)]
            for flag in POWER_FLAGS
            if previous[flag] != getattr(instance, flag)
        }
    if changed:
        record_event(
            action=AuditAction.PERMISSION_CHANGE,
            actor=_request_actor(),
            obj=instance,
            summary={"field": "flags", "change": "changed", "flags": changed},
        )


def sync_roles_after_migrate(sender, using, apps=global_apps, **kwargs):
    """After the last app's post_migrate (when every app's permissions exist), make each role
    group's permissions equal crm.roles.ROLE_PERMISSIONS."""
    from crm.roles import sync_role_permissions

    last = [config for config in global_apps.get_app_configs() if config.models_module][-1]
    if sender.label != last.label:
        return
    try:
        apps.get_model("auth", "Group")
        apps.get_model("crm", "AuditEvent")
    except LookupError:
        return  # migrating backwards past the tables the sync needs
    sync_role_permissions(using=using)
