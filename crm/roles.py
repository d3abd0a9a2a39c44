"""The roles of spec §3.3 as Django groups, and the permissions each holds: the matrix is this code.

docs/roles.md explains it for people. The groups are created by migration crm 0002_roles; their
permissions are made equal to ROLE_PERMISSIONS after every `migrate` (a post_migrate receiver,
when all apps' permissions exist) and by `manage.py sync_roles`. Permissions added by hand in the
admin are therefore undone by the next deployment: change the matrix here instead.

Each app owns its permissions: it grants them to the roles from its AppConfig.ready with
register_role_permissions (customers/roles.py, membership/roles.py), so a new app changes no
kernel file; ROLE_PERMISSIONS is then the whole matrix, and docs/roles.md shows it.
"""

import logging

from django.contrib.auth.models import Group, Permission
from django.db import DEFAULT_DB_ALIAS, transaction

logger = logging.getLogger(__name__)

MANAGER = "manager"
MARKETING = "marketing"
CUSTOMER_SERVICE = "customer_service"
FINANCE = "finance"
OPERATIONS = "operations"
ROLES = (MANAGER, MARKETING, CUSTOMER_SERVICE, FINANCE, OPERATIONS)


def model_perms(app_label: str, *models: str, actions=("view", "add", "change", "delete")) -> set:
    """`model_perms("customers", "tag", actions=("view",))` -> {"customers.view_tag"}."""
    return {f"{app_label}.{action}_{model}" for model in models for action in actions}


# The nightly jobs' schedules (django-celery-beat): who may see and move them.
SCHEDULES = model_perms(
    "django_celery_beat", "periodictask", "crontabschedule", actions=("view", "change")
)

# The kernel's own permissions; each app adds its own with register_role_permissions.
ROLE_PERMISSIONS: dict[str, set[str]] = {
    MANAGER: (
        {"crm.view_auditevent", "crm.view_accesslog"}
        | model_perms("crm", "apitoken", actions=("view", "add", "change"))
        | model_perms("crm", "jobrun", actions=("view",))
        | SCHEDULES
    ),
    CUSTOMER_SERVICE: set(),
    MARKETING: set(),
    FINANCE: set(),
    OPERATIONS: model_perms("crm", "jobrun", actions=("view",)) | SCHEDULES,
}


def register_role_permissions(permissions: dict[str, set[str]]) -> None:
    """Grant an app's permissions to the roles ({role: {"app_label.codename", ...}}), from its
    AppConfig.ready; the matrix is the union of what the kernel and every app grant."""
    unknown = set(permissions) - set(ROLES)
    if unknown:
        raise ValueError(f"Unknown roles {sorted(unknown)}; the roles are {ROLES}.")
    for role, names in permissions.items():
        ROLE_PERMISSIONS[role] |= set(names)


def sync_role_permissions(*, using: str = DEFAULT_DB_ALIAS) -> dict[str, list[str]]:
    """Make each role group's permissions exactly ROLE_PERMISSIONS[role], creating missing groups.

    Permissions that do not exist yet (an app not migrated) are skipped and logged; the next sync
    adds them. Returns the skipped "app_label.codename" per role. Idempotent: a second run
    changes nothing (and so records no audit event).
    """
    wanted = set().union(*ROLE_PERMISSIONS.values())
    existing = _permissions(wanted, using=using)
    skipped = {}
    with transaction.atomic(using=using):
        for role, names in ROLE_PERMISSIONS.items():
            group, _created = Group.objects.using(using).get_or_create(name=role)
            missing = sorted(names - existing.keys())
            if missing:
                skipped[role] = missing
                logger.warning(
                    "Role %s: %d permission(s) do not exist yet and were skipped: %s",
                    role,
                    len(missing),
                    ", ".join(missing),
                )
            # set() adds and removes only the difference, so an unchanged role writes nothing.
            group.permissions.set([existing[name] for name in names if name in existing])
    return skipped


def _permissions(names: set[str], *, using: str) -> dict[str, Permission]:
    pairs = [name.split(".", 1) for name in names]
    permissions = (
        Permission.objects.using(using)
        .select_related("content_type")
        .filter(
            content_type__app_label__in={app_label for app_label, _codename in pairs},
            codename__in={codename for _app_label, codename in pairs},
        )
    )
    found = {f"{p.content_type.app_label}.{p.codename}": p for p in permissions}
    return {name: permission for name, permission in found.items() if name in names}
