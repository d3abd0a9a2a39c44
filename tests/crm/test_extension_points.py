"""Apps extend the kernel through its registries, so a new app changes no kernel file and needs
no kernel migration: its audit actions and its role permissions are its own."""

import pytest
from django.core.management import call_command
from django.db import models

from crm import audit_actions
from crm.audit import record_event
from crm.models import AuditEvent
from crm.roles import ROLE_PERMISSIONS, ROLES
from customers.roles import CUSTOMER_ROLE_PERMISSIONS
from membership.roles import MEMBERSHIP_ROLE_PERMISSIONS
from profiles.roles import PROFILES_ROLE_PERMISSIONS
from segments.roles import SEGMENTS_ROLE_PERMISSIONS


class NewAppAction(models.TextChoices):
    SEGMENT_REFRESH = "segment_refresh", "Segment refresh"


@pytest.fixture
def new_app_action():
    audit_actions.register_audit_actions(NewAppAction)
    yield NewAppAction.SEGMENT_REFRESH
    audit_actions._actions.pop(NewAppAction.SEGMENT_REFRESH)


@pytest.mark.django_db
def test_a_new_apps_audit_action_is_recorded_without_a_kernel_migration(new_app_action):
    event = record_event(action=new_app_action, object_type="segments.segment")

    assert AuditEvent.objects.get(pk=event.pk).get_action_display() == "Segment refresh"
    # Exits non-zero if the kernel's models differ from its migrations.
    call_command("makemigrations", "crm", check=True, dry_run=True, verbosity=0)


def test_an_unregistered_audit_action_is_refused():
    with pytest.raises(ValueError, match="register"):
        record_event(action="segment_refersh")


def test_each_app_owns_its_audit_actions():
    kernel = {value for value, _label in audit_actions.AuditAction.choices}

    assert {"enroll", "points_adjust", "level_change"}.isdisjoint(kernel)
    assert {"enroll", "points_adjust", "level_change", "reveal_pii"} <= {
        value for value, _label in audit_actions.audit_action_choices()
    }


@pytest.mark.parametrize("role", ROLES)
def test_the_role_matrix_is_what_the_kernel_and_each_app_grant(role):
    from_apps = (
        CUSTOMER_ROLE_PERMISSIONS[role]
        | MEMBERSHIP_ROLE_PERMISSIONS[role]
        | SEGMENTS_ROLE_PERMISSIONS.get(role, set())
        | PROFILES_ROLE_PERMISSIONS.get(role, set())
    )

    assert from_apps <= ROLE_PERMISSIONS[role]
    kernel_only = ROLE_PERMISSIONS[role] - from_apps
    assert all(name.split(".")[0] in {"crm", "django_celery_beat"} for name in kernel_only)
