"""The admin: changes made there are audited; the audit trail and tokens are safe to browse."""

import hashlib
import re

import pytest
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.urls import path

from crm.admin_audit import AuditedModelAdmin
from crm.auth.tokens import create_api_token
from crm.models import ApiToken, AuditEvent

pytestmark = pytest.mark.django_db

# A site of its own, with Group under AuditedModelAdmin, to exercise the mixin through real views.
audited_site = AdminSite(name="audited")
audited_site.register(Group, AuditedModelAdmin)
urlpatterns = [path("audited/", audited_site.urls), path("admin/", admin.site.urls)]


@pytest.fixture
def superuser_client(client, make_user):
    user = make_user("root", superuser=True)
    client.force_login(user)
    return client, user


@pytest.mark.urls(__name__)
def test_adding_in_an_audited_admin_records_a_create_event(superuser_client):
    client, user = superuser_client

    response = client.post("/audited/auth/group/add/", {"name": "bar staff"})

    assert response.status_code == 302
    group = Group.objects.get(name="bar staff")
    event = AuditEvent.objects.get(action="create", object_type="auth.group")
    assert (event.actor, event.object_id, event.object_repr) == (user, str(group.pk), "bar staff")
    assert event.summary == {"via": "admin", "changeMessage": [{"added": {}}]}
    assert LogEntry.objects.filter(object_id=str(group.pk)).exists()  # Django's own log kept


@pytest.mark.urls(__name__)
def test_changing_in_an_audited_admin_records_the_changed_fields(superuser_client):
    client, _user = superuser_client
    group = Group.objects.create(name="bar staff")

    client.post(f"/audited/auth/group/{group.pk}/change/", {"name": "bar team"})

    event = AuditEvent.objects.get(action="update", object_id=str(group.pk))
    assert event.summary["changeMessage"] == [{"changed": {"fields": ["Name"]}}]


@pytest.mark.urls(__name__)
def test_bulk_deleting_in_an_audited_admin_records_one_event_per_object(superuser_client):
    client, _user = superuser_client
    groups = [Group.objects.create(name=f"shift {n}") for n in range(3)]

    client.post(
        "/audited/auth/group/",
        {"action": "delete_selected", "_selected_action": [g.pk for g in groups], "post": "yes"},
    )

    assert not Group.objects.filter(name__startswith="shift").exists()
    deleted = AuditEvent.objects.filter(action="delete", object_type="auth.group")
    assert sorted(deleted.values_list("object_repr", flat=True)) == [
        "shift 0",
        "shift 1",
        "shift 2",
    ]


def test_the_audit_trail_is_read_only_in_the_admin(client, make_user):
    manager = make_user("boss", roles=["manager"])
    client.force_login(manager)
    event = AuditEvent.objects.create(action="export", actor_username="boss")

    assert client.get("/admin/crm/auditevent/").status_code == 200
    assert client.get("/admin/crm/auditevent/?q=boss").status_code == 200
    assert client.get(f"/admin/crm/auditevent/{event.pk}/change/").status_code == 200
    assert client.get("/admin/crm/auditevent/add/").status_code == 403
    assert client.get(f"/admin/crm/auditevent/{event.pk}/delete/").status_code == 403
    client.post(f"/admin/crm/auditevent/{event.pk}/change/", {"action": "import"})
    event.refresh_from_db()
    assert event.action == "export"


def test_the_audit_trail_search_matches_usernames_and_ids_exactly(client, make_user):
    client.force_login(make_user("boss", roles=["manager"]))
    AuditEvent.objects.create(action="export", actor_username="boss", object_repr="match-me")
    AuditEvent.objects.create(action="export", actor_username="bossy", object_repr="not-me")

    page = client.get("/admin/crm/auditevent/?q=boss").content.decode()

    assert "match-me" in page and "not-me" not in page


def test_a_token_added_in_the_admin_shows_its_key_once_and_stores_its_hash(client, make_user):
    manager = make_user("boss", roles=["manager"])
    client.force_login(manager)

    response = client.post(
        "/admin/crm/apitoken/add/", {"user": manager.pk, "name": "POS"}, follow=True
    )

    token = ApiToken.objects.get(user=manager)
    messages = " ".join(str(message) for message in response.context["messages"])
    (key,) = re.findall(r"[A-Za-z0-9_-]{43}", messages)
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert AuditEvent.objects.filter(action="token_created", actor=manager).count() == 1
    change_page = client.get(f"/admin/crm/apitoken/{token.pk}/change/").content.decode()
    assert key not in change_page and token.key_hash not in change_page


def test_the_revoke_action_revokes_the_selected_tokens(client, make_user):
    manager = make_user("boss", roles=["manager"])
    client.force_login(manager)
    token, _key = create_api_token(user=manager)

    client.post(
        "/admin/crm/apitoken/",
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
    )

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.get(action="token_revoked").actor == manager


def test_tokens_cannot_be_deleted_in_the_admin(client, make_user):
    client.force_login(make_user("root", superuser=True))
    token, _key = create_api_token(user=make_user("pos"))

    assert client.get(f"/admin/crm/apitoken/{token.pk}/delete/").status_code == 403


def test_the_admin_refuses_a_token_for_a_more_powerful_user(client, make_user):
    manager = make_user("boss", roles=["manager"])
    root = make_user("root", superuser=True)
    client.force_login(manager)

    response = client.post("/admin/crm/apitoken/add/", {"user": root.pk, "name": "x"})

    assert response.status_code == 200  # the form again, with the error
    assert "root" in str(response.context["adminform"].form.non_field_errors())
    assert not ApiToken.objects.exists()
