"""PII at rest: Fernet encryption (MultiFernet, for key rotation) and HMAC blind indexes.

The ciphertext is what the database stores; the blind index (a keyed HMAC of the normalised
value) is what uniqueness and exact search use, so neither needs the plaintext in the database.

Both keys rotate (docs/configuration.md, "Personal data encryption"): FIELD_ENCRYPTION_KEYS
is a list, newest first, and `manage.py rotate_field_keys` re-encrypts stored values under the
newest; a new blind-index key is set as BLIND_INDEX_KEY_NEXT while a second index column is
filled with it, and lookups match a value's hashes under both keys until the switch.
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
def _newest_fernet() -> Fernet:
    _fernet()  # the same check of the setting
    return Fernet(settings.FIELD_ENCRYPTION_KEYS[0])


@cache
def _blind_index_key() -> bytes:
    if not settings.BLIND_INDEX_KEY:
        raise ImproperlyConfigured("Set BLIND_INDEX_KEY (docs/configuration.md).")
    return settings.BLIND_INDEX_KEY.encode()


@cache
def _next_blind_index_key() -> bytes | None:
    key = getattr(settings, "BLIND_INDEX_KEY_NEXT", "")
    return key.encode() if key else None


def _clear_key_caches(*, setting, **kwargs):
    if setting in {"FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY", "BLIND_INDEX_KEY_NEXT"}:
        _fernet.cache_clear()
        _newest_fernet.cache_clear()
        _blind_index_key.cache_clear()
        _next_blind_index_key.cache_clear()


setting_changed.connect(_clear_key_caches)


def encrypt(plaintext: str) -> str:
    return encrypt_bytes(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    return decrypt_bytes(token.encode()).decode()


def encrypt_bytes(plaintext: bytes) -> bytes:
    return _fernet().encrypt(plaintext)


def decrypt_bytes(token: bytes) -> bytes:
    try:
        return _fernet().decrypt(token)
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored value cannot be decrypted with FIELD_ENCRYPTION_KEYS: a key is missing."
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt a stored value under the newest key (after a new key is put first).
    Raises InvalidToken when no configured key decrypts it."""
    return _fernet().rotate(token.encode()).decode()


def is_on_newest_key(token: str) -> bool:
    """Whether the newest key signed this token: a check of its HMAC only, no decryption, so
    that a rotation skips the rows it has done cheaply."""
    try:
        _newest_fernet().extract_timestamp(token.encode())
    except InvalidToken:
        return False
    return True


def is_token(value: str) -> bool:
    """Whether a stored value is ciphertext under one of the keys (not plaintext left from
    before its column was encrypted)."""
    try:
        _fernet().extract_timestamp(value.encode())
    except InvalidToken:
        return False
    return True


def _hmac(key: bytes, value: str, purpose: str) -> bytes:
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()


def blind_index(value: str, *, purpose: str) -> bytes:
    """A keyed HMAC-SHA256 of the normalised value; `purpose` keeps phone and e-mail apart."""
    return _hmac(_blind_index_key(), value, purpose)


def next_blind_index(value: str, *, purpose: str) -> bytes | None:
    """The value's index under BLIND_INDEX_KEY_NEXT, the key a re-index is moving to; None when
    no re-index is under way. It is stored in the second index column (`*_index_next`)."""
    key = _next_blind_index_key()
    return _hmac(key, value, purpose) if key else None


def blind_index_candidates(value: str, *, purpose: str) -> list[bytes]:
    """The hashes a lookup of `value` matches, in either index column: under the current key
    and, during a re-index, the next one. Both columns, because during the switch a row's hash
    under the new key is in the second column until `reindex_blind_indexes --finish` moves it."""
    hashes = [blind_index(value, purpose=purpose)]
    upcoming = next_blind_index(value, purpose=purpose)
    if upcoming is not None:
        hashes.append(upcoming)
    return hashes


def phone_index(phone: str) -> bytes:
    """The blind index of a normalised (E.164) phone number: its uniqueness and exact search."""
    return blind_index(phone, purpose="phone")


def email_index(email: str) -> bytes:
    """The blind index of a normalised e-mail address."""
    return blind_index(email, purpose="email")


def blind_index_match(column: str, hashes) -> models.Q:
    """Rows whose `column` (e.g. "phone_index") or its second column (`column` + "_next")
    holds one of `hashes`: the lookup that keeps working through a blind-index re-index."""
    hashes = list(hashes)
    return models.Q(**{f"{column}__in": hashes}) | models.Q(**{f"{column}_next__in": hashes})


class EncryptedTextField(models.TextField):
    """A text column that holds Fernet ciphertext; Python code sees the plaintext."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else value
