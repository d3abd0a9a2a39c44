"""The audit trail: record_event, and the events Django's own auth actions produce."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.http import HttpResponse
from django.test import RequestFactory

from crm.audit import record_event
from crm.models import AuditEvent
from crm.request_context import RequestContextMiddleware

pytestmark = pytest.mark.django_db


def events(action):
    return AuditEvent.objects.filter(action=action).order_by("id")


def test_record_event_takes_type_id_and_repr_from_the_object(make_user):
    actor = make_user("boss")
    group = Group.objects.create(name="night shift")

    event = record_event(action="update", actor=actor, obj=group, summary={"field": "name"})

    assert (event.actor_username, event.object_type, event.object_id, event.object_repr) == (
        "boss",
        "auth.group",
        str(group.pk),
        "night shift",
    )
    assert event.summary == {"field": "name"}


def test_record_event_takes_the_ip_of_the_current_request():
    def view(request):
        record_event(action="export", object_type="customers.customer")
        return HttpResponse()

    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.10")
    RequestContextMiddleware(view)(request)

    assert events("export").get().ip == "192.0.2.10"


def test_a_malformed_client_ip_is_dropped_not_fatal():
    event = record_event(action="export", ip="not-an-ip, 10.0.0.1")

    assert event.ip is None


def test_an_unknown_action_is_refused():
    with pytest.raises(ValueError, match="Unknown audit action"):
        record_event(action="exprot")


def test_the_event_is_rolled_back_with_the_callers_transaction():
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(action="import")
        raise RuntimeError

    assert not events("import").exists()


def test_the_actors_username_survives_the_deletion_of_the_user(make_user):
    actor = make_user("temp")
    event = record_event(action="export", actor=actor)

    actor.delete()
    event.refresh_from_db()

    assert (event.actor, event.actor_username) == (None, "temp")


def test_a_long_object_repr_is_cut_to_fit():
    group = Group.objects.create(name="x" * 150)
    event = record_event(action="create", obj=group, object_type="auth.group")

    assert event.object_repr == "x" * 150
    assert len(record_event(action="create", obj=_Named("y" * 300)).object_repr) == 200


class _Named:
    pk = 1

    class _meta:
        label_lower = "tests.named"

    def __init__(self, name):
        self.name = name

    def __str__(self):
        return self.name


def test_a_successful_login_is_audited_with_user_and_ip(client, make_user):
    user = make_user("waiter")

    client.post(
        "/admin/login/",
        {"username": "waiter", "password": "pass-1234-word"},
        REMOTE_ADDR="192.0.2.20",
    )

    event = events("login_success").get()
    assert (event.actor, event.ip, event.object_id) == (user, "192.0.2.20", str(user.pk))


def test_a_failed_login_records_the_username_tried_but_never_the_password(client, make_user):
    make_user("waiter")

    client.post(
        "/admin/login/",
        {"username": "waiter", "password": "secret-guess-42"},
        REMOTE_ADDR="192.0.2.30",
    )

    event = events("login_failure").get()
    assert event.summary == {"username": "waiter", "locked": False}
    assert event.actor is None and event.ip == "192.0.2.30"
    assert "secret-guess-42" not in str(AuditEvent.objects.values())


def test_adding_and_removing_a_users_group_is_a_permission_change(make_user):
    user = make_user("waiter")
    group = Group.objects.get(name="finance")

    user.groups.add(group)
    user.groups.remove(group)

    added, removed = events("permission_change").filter(summary__field="groups")
    assert added.summary == {"field": "groups", "change": "added", "groups": ["finance"]}
    assert removed.summary == {"field": "groups", "change": "removed", "groups": ["finance"]}
    assert added.object_id == str(user.pk)


def test_adding_a_user_from_the_groups_side_is_audited_on_the_group(make_user):
    user = make_user("waiter")
    group = Group.objects.get(name="finance")

    group.user_set.add(user)

    event = events("permission_change").get(object_type="auth.group", summary__field="groups")
    assert event.summary == {"field": "groups", "change": "added", "users": ["waiter"]}


def test_clearing_a_groups_permissions_lists_what_was_removed():
    group = Group.objects.create(name="temp")
    group.permissions.add(Permission.objects.get(codename="export_customer"))

    group.permissions.clear()

    cleared = events("permission_change").filter(object_id=str(group.pk)).last()
    assert cleared.summary == {
        "field": "group_permissions",
        "change": "removed",
        "permissions": ["customers.export_customer"],
    }


def test_a_direct_user_permission_is_audited(make_user):
    user = make_user("waiter")

    user.user_permissions.add(Permission.objects.get(codename="reveal_customer_pii"))

    event = events("permission_change").get(summary__field="user_permissions")
    assert event.summary["permissions"] == ["customers.reveal_customer_pii"]


def test_creating_a_staff_user_and_granting_superuser_are_permission_changes(make_user):
    user = make_user("waiter")

    user.is_superuser = True
    user.save()

    created, granted = events("permission_change").filter(
        summary__field="flags", object_id=str(user.pk)
    )
    assert created.summary["flags"] == {"is_staff": [False, True]}
    assert granted.summary["flags"] == {"is_superuser": [False, True]}


def test_a_login_does_not_cost_a_flag_audit_query(client, make_user, django_assert_num_queries):
    user = make_user("waiter")
    user.last_login = None
    # The login's `save(update_fields=["last_login"])` must not look up the old flags.
    with django_assert_num_queries(1):
        user.save(update_fields=["last_login"])
