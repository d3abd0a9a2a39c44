"""API tokens: `Token <key>` or `Bearer <key>`, stored hashed, revocable, shown once."""

import hashlib
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from crm.auth.tokens import create_api_token, revoke_api_token
from crm.errors import NotAllowed
from crm.models import ApiToken, AuditEvent

pytestmark = pytest.mark.django_db

URL = "/api/v1/audit-events"


@pytest.fixture
def manager(make_user):
    return make_user("boss", roles=["manager"])


def client_with(api_client, header):
    return api_client() if header is None else _with_header(api_client(), header)


def _with_header(client, header):
    client.credentials(HTTP_AUTHORIZATION=header)
    return client


@pytest.mark.parametrize("keyword", ["Token", "Bearer", "token", "bearer"])
def test_a_valid_key_authenticates_with_token_or_bearer(api_client, manager, keyword):
    _token, key = create_api_token(user=manager)

    response = client_with(api_client, f"{keyword} {key}").get(URL)

    assert response.status_code == 200
    assert response.json()["success"] is True


def test_a_wrong_key_is_401_with_the_envelope(api_client, manager):
    create_api_token(user=manager)

    response = client_with(api_client, "Token not-the-key").get(URL)

    assert response.status_code == 401
    assert response.json()["success"] is False
    assert response.json()["error"]["message"] == "Invalid token."
    assert response.headers["WWW-Authenticate"].startswith("Token")


def test_a_header_with_a_space_in_the_key_is_401(api_client, manager):
    response = client_with(api_client, "Bearer two words").get(URL)

    assert response.status_code == 401
    assert "Token <key>" in response.json()["error"]["message"]


def test_no_credentials_is_401_not_403(api_client):
    response = client_with(api_client, None).get(URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_revoked_token_is_401_and_says_so(api_client, manager):
    token, key = create_api_token(user=manager)
    revoke_api_token(token=token)

    response = client_with(api_client, f"Token {key}").get(URL)

    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_the_token_of_an_inactive_user_is_401(api_client, manager):
    _token, key = create_api_token(user=manager)
    manager.is_active = False
    manager.save()

    response = client_with(api_client, f"Token {key}").get(URL)

    assert response.status_code == 401
    assert "inactive" in response.json()["error"]["message"]


def test_only_the_sha256_of_the_key_and_its_prefix_are_stored(manager):
    token, key = create_api_token(user=manager, name="POS")

    stored = ApiToken.objects.values().get(pk=token.pk)
    assert stored["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert stored["prefix"] == key[:8]
    assert key not in str(stored.values())
    assert len(key) >= 43  # 32 random bytes


def test_creating_a_token_is_audited_without_the_key(manager):
    token, key = create_api_token(user=manager, name="POS", actor=manager)

    event = AuditEvent.objects.get(action="token_created")
    assert (event.actor, event.object_type, event.object_id) == (
        manager,
        "crm.apitoken",
        str(token.pk),
    )
    assert event.summary == {"user": "boss", "name": "POS", "prefix": key[:8]}
    assert key not in str(event.summary) + event.object_repr


def test_revoking_twice_revokes_and_audits_once(manager):
    token, _key = create_api_token(user=manager)

    assert revoke_api_token(token=token) is True
    assert revoke_api_token(token=token) is False
    assert AuditEvent.objects.filter(action="token_revoked").count() == 1


def test_last_used_at_is_written_after_the_request_at_most_once_a_minute(
    api_client, manager, django_capture_on_commit_callbacks
):
    token, key = create_api_token(user=manager)
    client = client_with(api_client, f"Token {key}")

    with django_capture_on_commit_callbacks(execute=True):
        client.get(URL)
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        client.get(URL)
    assert callbacks == []  # within the minute: no write at all

    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first_use - timedelta(minutes=2))
    with django_capture_on_commit_callbacks(execute=True):
        client.get(URL)
    token.refresh_from_db()
    assert token.last_used_at > first_use - timedelta(seconds=1)
    assert token.last_used_at <= timezone.now()


def test_create_api_token_command_prints_the_key_once(manager, capsys):
    call_command("create_api_token", "boss", "--name", "POS store 12")

    out, err = capsys.readouterr()
    key = out.strip()
    token = ApiToken.objects.get(user=manager)
    assert token.name == "POS store 12"
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert out.count(key) == 1 and key not in err
    assert "not shown again" in err


def test_create_api_token_command_refuses_an_unknown_user(db):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="No user named ghost"):
        call_command("create_api_token", "ghost")


def test_a_manager_may_not_mint_a_token_for_a_superuser(make_user):
    manager = make_user("boss2", roles=["manager"])
    root = make_user("root", superuser=True)

    with pytest.raises(NotAllowed, match="root"):
        create_api_token(user=root, actor=manager)
    assert not ApiToken.objects.filter(user=root).exists()


def test_a_manager_may_mint_a_token_for_a_less_powerful_user(make_user):
    manager = make_user("boss2", roles=["manager"])
    pos = make_user("pos", roles=["operations"])

    token, _key = create_api_token(user=pos, actor=manager)

    assert token.user == pos
