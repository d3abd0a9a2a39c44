"""The current request's actor, client IP and id, for audit events written deep inside services
and for the log lines it causes."""

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.conf import settings

_current: ContextVar["RequestContext | None"] = ContextVar("crm_request_context", default=None)


# A request id given by a proxy in front is kept when it looks like one; else we make one.
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


@dataclass(frozen=True)
class RequestContext:
    ip: str | None
    request: object
    request_id: str
    after_view: list[Callable[[], object]] = field(default_factory=list)
    # What a module gathers over one request (the access log's reads): see per_request.
    collected: dict[str, object] = field(default_factory=dict)


def client_ip(request) -> str | None:
    # X-Real-IP is trusted only when the operator says a proxy in front overwrites it
    # (TRUST_X_REAL_IP); otherwise any client could forge audit IPs and dodge IP lockouts.
    if settings.TRUST_X_REAL_IP and request.META.get("HTTP_X_REAL_IP"):
        return request.META["HTTP_X_REAL_IP"]
    return request.META.get("REMOTE_ADDR")


def request_id_of(request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def current_request_id() -> str | None:
    context = _current.get()
    return context.request_id if context else None


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every log record (`-` outside a request), so that the
    line of a server error can be found from the id its response showed the client."""

    def filter(self, record):
        record.request_id = current_request_id() or "-"
        return True


def current_ip() -> str | None:
    context = _current.get()
    return context.ip if context else None


def current_request():
    context = _current.get()
    return context.request if context else None


def run_after_view(callback: Callable[[], object]) -> None:
    """Run `callback` once the view has returned, outside the view's transaction (each request
    is one transaction, ATOMIC_REQUESTS), so what it writes stays even when the view rolls back.
    Outside a request it runs at once."""
    context = _current.get()
    if context is None:
        callback()
    else:
        context.after_view.append(callback)


def per_request(key: str, factory: Callable[[], object]):
    """The object stored under `key` for the current request, made by `factory()` on first use
    (which may schedule its own run_after_view); None outside a request."""
    context = _current.get()
    if context is None:
        return None
    if key not in context.collected:
        context.collected[key] = factory()
    return context.collected[key]


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        context = RequestContext(
            ip=client_ip(request), request=request, request_id=request_id_of(request)
        )
        token = _current.set(context)
        try:
            response = self.get_response(request)
            for callback in context.after_view:
                callback()
            response[REQUEST_ID_HEADER] = context.request_id
            return response
        finally:
            _current.reset(token)
