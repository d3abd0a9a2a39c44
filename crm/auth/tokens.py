"""API tokens: creating and revoking them, and authenticating REST requests that carry one.

A key is random (`secrets.token_urlsafe(32)`), shown once to whoever creates it, and stored only
as its SHA-256, with its first characters as a prefix that identifies it in lists.
"""

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from crm.audit import record_event
from crm.audit_actions import AuditAction
from crm.auth.token_failures import record_token_failure
from crm.errors import NotAllowed
from crm.models import ApiToken
from crm.request_context import client_ip

KEYWORDS = ("token", "bearer")
PREFIX_LENGTH = ApiToken._meta.get_field("prefix").max_length
# last_used_at is a hint, not a log: one write a minute per token, not one per request.
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def ensure_may_issue_token(*, actor, user) -> None:
    """Nobody may mint a key more powerful than themselves: a non-superuser may issue tokens only
    for users who are not superusers and hold no permission the actor lacks. Raises NotAllowed."""
    if actor is None or actor.is_superuser or actor == user:
        return
    if user.is_superuser or not user.get_all_permissions() <= actor.get_all_permissions():
        raise NotAllowed(
            _(
                "You may not create a token for %(username)s: that user has permissions you do "
                "not have. Ask a superuser."
            )
            % {"username": user.get_username()}
        )


def create_api_token(*, user, name: str = "", actor=None) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns it with its key, which is not stored and never shown
    again. `actor` is who asked for it (None from the command line, which is trusted).
    Raises NotAllowed when the actor may not issue a token for that user."""
    ensure_may_issue_token(actor=actor, user=user)
    key = secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name, key_hash=hash_key(key), prefix=key[:PREFIX_LENGTH]
        )
        record_event(
            action=AuditAction.TOKEN_CREATED,
            actor=actor,
            obj=token,
            summary={"user": user.get_username(), "name": name, "prefix": token.prefix},
        )
    return token, key


def revoke_api_token(*, token: ApiToken, actor=None) -> bool:
    """Revoke the token from now on; returns False when it was already revoked."""
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if revoked:
            token.refresh_from_db(fields=["revoked_at"])
            record_event(
                action=AuditAction.TOKEN_REVOKED,
                actor=actor,
                obj=token,
                summary={"user": token.user.get_username(), "prefix": token.prefix},
            )
    return bool(revoked)


class TokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` or `Authorization: Bearer <key>`. Failures are audited in
    aggregate (crm.auth.token_failures)."""

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower().decode(errors="replace") not in KEYWORDS:
            return None
        ip = client_ip(request)
        if len(parts) != 2:
            raise _failed(
                _("Invalid Authorization header: use 'Token <key>' or 'Bearer <key>'."),
                ip=ip,
                reason="malformed",
            )
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise _failed(_("Invalid token."), ip=ip, reason="malformed") from None
        return self.authenticate_key(key, ip=ip)

    def authenticate_key(self, key: str, *, ip: str | None = None):
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_key(key)).first()
        if token is None:
            raise _failed(_("Invalid token."), ip=ip, reason="invalid")
        if token.revoked_at is not None:
            raise _failed(
                _("This token has been revoked; ask an administrator for a new one."),
                ip=ip,
                reason="revoked",
                token=token,
            )
        if not token.user.is_active:
            raise _failed(
                _("The user of this token is inactive."), ip=ip, reason="inactive", token=token
            )
        _note_use(token)
        return token.user, token

    def authenticate_header(self, request):
        # Any value here makes DRF answer unauthenticated requests with 401 instead of 403.
        return 'Token realm="api"'


def _failed(message, *, ip, reason, token=None) -> exceptions.AuthenticationFailed:
    record_token_failure(ip=ip, reason=reason, token=token)
    return exceptions.AuthenticationFailed(message)


def _note_use(token: ApiToken) -> None:
    now = timezone.now()
    stale = now - LAST_USED_PRECISION
    if token.last_used_at is not None and token.last_used_at > stale:
        return
    token.last_used_at = now

    # After the request's transaction: the row lock of this UPDATE must not last for the
    # whole request, or parallel requests with the same token would queue behind it.
    def update():
        ApiToken.objects.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale), pk=token.pk
        ).update(last_used_at=now)

    transaction.on_commit(update)


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = TokenAuthentication
    name = ["tokenAuth", "bearerAuth"]

    def get_security_requirement(self, auto_schema):
        # Either header works: alternatives, not both at once.
        return [{name: []} for name in self.name]

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": str(_("An API token: `Token <key>`.")),
            },
            {
                "type": "http",
                "scheme": "bearer",
                "description": str(_("An API token as a bearer.")),
            },
        ]
