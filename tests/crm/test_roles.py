"""Roles of spec §3.3: groups from a migration, permissions equal to crm.roles.ROLE_PERMISSIONS."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from crm.models import AuditEvent
from crm.roles import ROLE_PERMISSIONS, ROLES, sync_role_permissions

pytestmark = pytest.mark.django_db


def permissions_of(role):
    group = Group.objects.get(name=role)
    return {
        f"{app_label}.{codename}"
        for app_label, codename in group.permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def test_every_role_group_exists_after_migrate():
    assert set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_after_migrate_each_role_has_exactly_the_permissions_of_the_matrix(role):
    assert permissions_of(role) == ROLE_PERMISSIONS[role]


@pytest.mark.parametrize(
    ("role", "perm", "granted"),
    [
        ("manager", "customers.reveal_customer_pii", True),
        ("manager", "customers.erase_customer", True),
        ("manager", "crm.view_auditevent", True),
        ("customer_service", "customers.reveal_customer_pii", True),
        ("customer_service", "customers.export_customer", False),
        ("customer_service", "crm.view_auditevent", False),
        ("marketing", "customers.export_customer", True),
        ("marketing", "customers.reveal_customer_pii", False),
        ("finance", "customers.change_customer", False),
        ("marketing", "customers.change_customer", False),
        ("marketing", "customers.tag_customer", True),
        ("finance", "customers.export_customer", True),
        ("operations", "customers.import_customer", True),
        ("operations", "customers.delete_customer", False),
        ("operations", "customers.erase_customer", False),
    ],
)
def test_role_grants(make_user, role, perm, granted):
    user = make_user("member", roles=[role])

    assert user.has_perm(perm) is granted


def test_only_managers_may_erase_customers_or_read_the_audit_trail():
    for perm in ["customers.erase_customer", "crm.view_auditevent"]:
        assert [role for role in ROLES if perm in ROLE_PERMISSIONS[role]] == ["manager"]


def test_every_permission_in_the_matrix_exists():
    # A typo in crm.roles would otherwise only show as a warning at migrate time.
    assert sync_role_permissions() == {}


def test_sync_removes_a_permission_added_by_hand_and_restores_one_removed():
    group = Group.objects.get(name="finance")
    group.permissions.add(Permission.objects.get(codename="delete_customer"))
    group.permissions.remove(Permission.objects.get(codename="export_customer"))

    sync_role_permissions()

    assert permissions_of("finance") == ROLE_PERMISSIONS["finance"]


def test_sync_is_idempotent_and_a_second_run_changes_and_audits_nothing():
    sync_role_permissions()
    before = {role: permissions_of(role) for role in ROLES}
    events = AuditEvent.objects.count()

    sync_role_permissions()

    assert {role: permissions_of(role) for role in ROLES} == before
    assert AuditEvent.objects.count() == events


def test_sync_recreates_a_deleted_role_group():
    Group.objects.filter(name="finance").delete()

    sync_role_permissions()

    assert permissions_of("finance") == ROLE_PERMISSIONS["finance"]


def test_sync_skips_and_reports_permissions_that_do_not_exist_yet(monkeypatch, caplog):
    monkeypatch.setitem(
        ROLE_PERMISSIONS, "finance", ROLE_PERMISSIONS["finance"] | {"orders.view_order"}
    )

    skipped = sync_role_permissions()

    assert skipped == {"finance": ["orders.view_order"]}
    assert "orders.view_order" in caplog.text
    assert permissions_of("finance") == ROLE_PERMISSIONS["finance"] - {"orders.view_order"}


def test_sync_roles_command_prints_each_role(capsys):
    call_command("sync_roles")

    out = capsys.readouterr().out
    assert all(role in out for role in ROLES)


def test_the_matrix_in_the_docs_is_the_code():
    """docs/roles.md shows ROLE_PERMISSIONS as generated (`manage.py roles_matrix --write`)."""
    from crm.roles_matrix import DOCS, document_with_matrix

    text = DOCS.read_text()
    assert document_with_matrix(text) == text


def test_the_generated_matrix_shows_every_grant():
    from crm.roles_matrix import render_matrix

    matrix = render_matrix()
    row = next(line for line in matrix.splitlines() if line.startswith("| `customers.customer`"))
    cells = dict(zip(ROLES, [cell.strip() for cell in row.split("|")[2:-1]], strict=True))
    assert cells["marketing"] == "view"
    assert cells["manager"] == "view add change delete"
    tag_row = next(line for line in matrix.splitlines() if "customers.tag_customer" in line)
    assert tag_row.count("✓") == len(
        [r for r in ROLES if "customers.tag_customer" in ROLE_PERMISSIONS[r]]
    )
