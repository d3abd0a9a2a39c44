"""The current request's actor and client IP, for audit events written deep inside services."""

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.conf import settings

_current: ContextVar["RequestContext | None"] = ContextVar("crm_request_context", default=None)


@dataclass(frozen=True)
class RequestContext:
    ip: str | None
    request: object
    after_view: list[Callable[[], object]] = field(default_factory=list)


def client_ip(request) -> str | None:
    # X-Real-IP is trusted only when the operator says a proxy in front overwrites it
    # (TRUST_X_REAL_IP); otherwise any client could forge audit IPs and dodge IP lockouts.
    if settings.TRUST_X_REAL_IP and request.META.get("HTTP_X_REAL_IP"):
        return request.META["HTTP_X_REAL_IP"]
    return request.META.get("REMOTE_ADDR")


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


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        context = RequestContext(ip=client_ip(request), request=request)
        token = _current.set(context)
        try:
            response = self.get_response(request)
            for callback in context.after_view:
                callback()
            return response
        finally:
            _current.reset(token)
