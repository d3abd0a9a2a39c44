"""Brute-force protection for password logins: failure counters per username and per client IP.

LOGIN_FAILURE_LIMIT failures for one username, or from one IP, within LOGIN_LOCKOUT_SECONDS lock
that username or IP for LOGIN_LOCKOUT_SECONDS. The counters live in the cache (Redis in
production), shared by every web process, and expire on their own. A successful login clears the
counters of its username and IP; the username counter alone still stops guessing at one account.
"""

import hashlib
import time

from django.conf import settings
from django.core.cache import cache

_PREFIX = "crm:login"


def _key(kind: str, scope: str, value: str) -> str:
    # Usernames are case-insensitive here, so `Admin` and `admin` share one counter; hashing keeps
    # arbitrary user input out of cache keys.
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"{_PREFIX}:{kind}:{scope}:{digest}"


def _scopes(username: str | None, ip: str | None) -> list[tuple[str, str]]:
    scopes = []
    if username:
        scopes.append(("user", username))
    if ip:
        scopes.append(("ip", ip))
    return scopes


def locked_seconds(*, username: str | None, ip: str | None) -> int:
    """Seconds until the username or the IP may try again; 0 when neither is locked."""
    keys = [_key("until", scope, value) for scope, value in _scopes(username, ip)]
    until = max((value for value in cache.get_many(keys).values() if value), default=0)
    return max(0, int(until - time.time() + 0.999))


def is_locked(*, username: str | None, ip: str | None) -> bool:
    return locked_seconds(username=username, ip=ip) > 0


def record_failure(*, username: str | None, ip: str | None) -> bool:
    """Count one failed login; returns True when this failure locked the username or the IP."""
    window = settings.LOGIN_LOCKOUT_SECONDS
    locked = False
    for scope, value in _scopes(username, ip):
        count_key = _key("failures", scope, value)
        # add() starts the window with the first failure; incr() is atomic across processes.
        cache.add(count_key, 0, timeout=window)
        try:
            count = cache.incr(count_key)
        except ValueError:  # the counter expired between add() and incr()
            cache.set(count_key, 1, timeout=window)
            count = 1
        if count >= settings.LOGIN_FAILURE_LIMIT:
            cache.set(_key("until", scope, value), time.time() + window, timeout=window)
            locked = True
    return locked


def clear(*, username: str | None, ip: str | None) -> None:
    """Forget the failures and locks of this username and IP (after a successful login)."""
    keys = []
    for scope, value in _scopes(username, ip):
        keys += [_key("failures", scope, value), _key("until", scope, value)]
    cache.delete_many(keys)
