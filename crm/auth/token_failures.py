"""Failed API token authentications, audited in aggregate: a client retrying a wrong or revoked
key (or guessing keys) must be on the trail without writing an audit row per request.

Failures are counted per client IP and per minute in the cache (Redis in production, shared by
every web process); the first failure of each minute from an IP is an audit event
(`token_failure`) that also says how many failures that IP had in the minute before, so the
trail holds the whole count but for the last minute, at most one row a minute per IP.
"""

import hashlib
import time

from django.core.cache import cache

from crm.audit import record_refusal
from crm.audit_actions import AuditAction

_PREFIX = "crm:token-failures"
WINDOW_SECONDS = 60


def _key(ip: str | None, minute: int) -> str:
    digest = hashlib.sha256((ip or "unknown").encode()).hexdigest()[:32]
    return f"{_PREFIX}:{digest}:{minute}"


def record_token_failure(*, ip: str | None, reason: str, token=None) -> bool:
    """Count one failed token authentication from `ip` (`reason`: malformed, invalid, revoked,
    inactive; `token` when the key was a known one). The first failure of the minute from that
    IP is recorded as an audit event, after the view (the refusal rolls the request back).
    Returns True when this failure was recorded as an event."""
    minute = int(time.time() // WINDOW_SECONDS)
    key = _key(ip, minute)
    # add() is SET NX: exactly one process sees the first failure of the minute.
    if not cache.add(key, 1, timeout=WINDOW_SECONDS * 2):
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=WINDOW_SECONDS * 2)
        return False
    summary = {
        "reason": reason,
        "failuresPreviousMinute": cache.get(_key(ip, minute - 1)) or 0,
    }
    if token is not None:
        summary.update({"prefix": token.prefix, "user": token.user.get_username()})
    event = {"action": AuditAction.TOKEN_FAILURE, "summary": summary, "ip": ip}
    if token is not None:
        event["obj"] = token
    record_refusal(**event)
    return True
