"""The current request's actor and client IP, for audit events written deep inside services."""

from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings

_current: ContextVar["RequestContext | None"] = ContextVar("crm_request_context", default=None)


@dataclass(frozen=True)
class RequestContext:
    ip: str | None
    request: object


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


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current.set(RequestContext(ip=client_ip(request), request=request))
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)
