"""Start-up checks: a server without usable PII keys must not start (STYLE.md, system checks)."""

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=False)
def check_pii_keys(app_configs, **kwargs):
    errors = []
    if not settings.FIELD_ENCRYPTION_KEYS:
        errors.append(
            checks.Error(
                "FIELD_ENCRYPTION_KEYS is not set: phone numbers and e-mails cannot be stored.",
                hint="Generate a key with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'` (docs/configuration.md).",
                id="crm.E001",
            )
        )
    for position, key in enumerate(settings.FIELD_ENCRYPTION_KEYS, start=1):
        try:
            Fernet(key)
        except ValueError:
            errors.append(
                checks.Error(
                    f"Key {position} of FIELD_ENCRYPTION_KEYS is not a valid Fernet key.",
                    hint="A Fernet key is 32 url-safe base64-encoded bytes.",
                    id="crm.E002",
                )
            )
    if len(settings.BLIND_INDEX_KEY or "") < 32:
        errors.append(
            checks.Error(
                "BLIND_INDEX_KEY must be set to at least 32 characters.",
                hint="Generate one with `python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`; never change it without re-indexing "
                "(docs/configuration.md).",
                id="crm.E003",
            )
        )
    upcoming = getattr(settings, "BLIND_INDEX_KEY_NEXT", "")
    if upcoming and (len(upcoming) < 32 or upcoming == settings.BLIND_INDEX_KEY):
        errors.append(
            checks.Error(
                "BLIND_INDEX_KEY_NEXT must be a new key of at least 32 characters.",
                hint="It is set only during a blind-index re-index (docs/configuration.md, "
                '"Personal data encryption").',
                id="crm.E004",
            )
        )
    return errors
