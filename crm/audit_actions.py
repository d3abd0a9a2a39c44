"""The actions the audit trail knows: the kernel's own (AuditAction) and those each app
contributes from its AppConfig.ready with register_audit_actions.

AuditEvent.action reads its choices from here through a callable, so an app that brings new
actions needs no migration of the kernel's table; crm.audit refuses an action nobody registered,
so a typo fails loudly.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    """What the kernel itself records: changes made through the admin, logins and logouts,
    permissions, API tokens and who read the audit trail."""

    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    DELETE = "delete", _("Delete")
    LOGIN_SUCCESS = "login_success", _("Login")
    LOGIN_FAILURE = "login_failure", _("Failed login")
    LOGOUT = "logout", _("Logout")
    TOKEN_FAILURE = "token_failure", _("Failed API token authentication")
    AUDIT_READ = "audit_read", _("Audit trail viewed")
    PERMISSION_CHANGE = "permission_change", _("Permission change")
    TOKEN_CREATED = "token_created", _("API token created")
    TOKEN_REVOKED = "token_revoked", _("API token revoked")


_actions: dict[str, str] = dict(AuditAction.choices)


def register_audit_actions(actions: type[models.TextChoices]) -> None:
    """Add an app's actions (a TextChoices class) to the trail's choices. Registering an action
    again is a no-op."""
    for value, label in actions.choices:
        _actions.setdefault(value, label)


def audit_action_choices() -> list[tuple[str, str]]:
    """Every registered action as (value, label): the kernel's first, then each app's."""
    return list(_actions.items())


def is_audit_action(value: str) -> bool:
    return value in _actions
