"""PII at rest: Fernet encryption (MultiFernet, for key rotation) and HMAC blind indexes.

The ciphertext is what the database stores; the blind index (a keyed HMAC of the normalised
value) is what uniqueness and exact search use, so neither needs the plaintext in the database.
"""

import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models


@cache
def _fernet() -> MultiFernet:
    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured("Set FIELD_ENCRYPTION_KEYS (docs/configuration.md).")
    return MultiFernet([Fernet(key) for key in keys])


@cache
def _blind_index_key() -> bytes:
    if not settings.BLIND_INDEX_KEY:
        raise ImproperlyConfigured("Set BLIND_INDEX_KEY (docs/configuration.md).")
    return settings.BLIND_INDEX_KEY.encode()


def _clear_key_caches(*, setting, **kwargs):
    if setting in {"FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY"}:
        _fernet.cache_clear()
        _blind_index_key.cache_clear()


setting_changed.connect(_clear_key_caches)


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored value cannot be decrypted with FIELD_ENCRYPTION_KEYS: a key is missing."
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt a stored value under the newest key (after a new key is put first)."""
    return _fernet().rotate(token.encode()).decode()


def blind_index(value: str, *, purpose: str) -> bytes:
    """A keyed HMAC-SHA256 of the normalised value; `purpose` keeps phone and e-mail apart."""
    message = f"{purpose}:{value}".encode()
    return hmac.new(_blind_index_key(), message, hashlib.sha256).digest()


def phone_index(phone: str) -> bytes:
    """The blind index of a normalised (E.164) phone number: its uniqueness and exact search."""
    return blind_index(phone, purpose="phone")


def email_index(email: str) -> bytes:
    """The blind index of a normalised e-mail address."""
    return blind_index(email, purpose="email")


class EncryptedTextField(models.TextField):
    """A text column that holds Fernet ciphertext; Python code sees the plaintext."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else value
