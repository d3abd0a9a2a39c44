"""Shared fixtures. Tests run on the real PostgreSQL and Redis (see README, "Tests")."""

import os

import psycopg
import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

C_LOCALE_TEMPLATE = "crm_test_template_c_locale"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Run the whole suite on a database with the plain `C` locale, the worst case for Chinese
    search (pg_trgm and ILIKE ignore CJK there): what passes here passes under any locale."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    params = {
        "dbname": "postgres",
        "user": database["USER"] or "postgres",
        "host": database["HOST"] or None,
        "port": database["PORT"] or None,
        "password": database["PASSWORD"] or None,
        "autocommit": True,
    }
    with psycopg.connect(
        **{key: value for key, value in params.items() if value is not None}
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [C_LOCALE_TEMPLATE]
        ).fetchone()
        if not exists:
            conn.execute(
                f"CREATE DATABASE \"{C_LOCALE_TEMPLATE}\" TEMPLATE template0 ENCODING 'UTF8' "
                "LC_COLLATE 'C' LC_CTYPE 'C'"
            )
    database.setdefault("TEST", {})["TEMPLATE"] = C_LOCALE_TEMPLATE


@pytest.fixture(autouse=True)
def _empty_cache():
    """Throttle and lockout counters live in the cache (Redis under CI): start each test clean."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def redis_or_skip():
    """Tests that need Redis skip without REDIS_URL locally, but never under CI."""
    if not os.environ.get("REDIS_URL"):
        if os.environ.get("CI") == "true":
            pytest.fail("REDIS_URL must be set under CI: no test may skip for want of Redis.")
        pytest.skip("needs Redis: set REDIS_URL")


@pytest.fixture
def make_user(django_user_model):
    """A staff user in the given role groups (crm.roles), with password 'pass-1234-word'."""

    def make(username="staff", *, roles=(), superuser=False, **extra):
        user = django_user_model.objects.create_user(
            username=username,
            password="pass-1234-word",
            is_staff=True,
            is_superuser=superuser,
            **extra,
        )
        for role in roles:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def api_client():
    """An API client that asks for English, so messages can be asserted in one language."""

    def make(user=None, language="en"):
        client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


class SmtpInbox:
    """What an SMTP server on loopback received: one email.message.Message per delivery, with
    the envelope's recipients (Bcc ones included) in `recipients`."""

    def __init__(self, port: int):
        self.port = port
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        import email

        message = email.message_from_bytes(envelope.original_content)
        message.recipients = list(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"

    def bodies(self) -> list[str]:
        return [
            part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
            for message in self.messages
            for part in message.walk()
            if part.get_content_type() == "text/plain"
        ]


@pytest.fixture
def smtp_inbox(settings):
    """A real SMTP server on 127.0.0.1 (aiosmtpd), and Django's SMTP backend pointed at it: the
    production path of every e-mail, without a mail relay."""
    import socket

    from aiosmtpd.controller import Controller

    # A free port: the controller checks that its server answers on the port it was given.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = SmtpInbox(port)
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    try:
        yield inbox
    finally:
        controller.stop()
