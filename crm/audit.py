"""Writing the audit trail (spec §3.3 "操作审计"): one row per traceable action, written in the
caller's transaction, so an action that rolls back leaves no event and one that commits has one.
Refusals, which roll back by nature, use record_refusal.
"""

import ipaddress
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from crm.audit_actions import AuditAction, is_audit_action
from crm.models import AuditEvent
from crm.request_context import current_ip, run_after_view

REPR_MAX_LENGTH = AuditEvent._meta.get_field("object_repr").max_length


def record_event(
    *,
    action: str,
    actor=None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    summary: dict | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Record that `actor` (None for the system) did `action` to `obj` (or object_type/object_id).

    The IP defaults to the current request's. `summary` is JSON; keep personal data (phone,
    e-mail, address) out of it and out of the object's `str()`, which becomes `object_repr`.
    Raises ValueError for an action nobody registered (crm.audit_actions), so a typo fails loudly.
    """
    return AuditEvent.objects.create(
        **event_fields(
            action=action,
            actor=actor,
            obj=obj,
            object_type=object_type,
            object_id=object_id,
            summary=summary,
            ip=ip,
        )
    )


def record_refusal(**event) -> None:
    """Record a refused attempt (a wrong re-verification password ...) even though the refusal
    rolls the request back: the event is written after the view, outside its transaction.
    Takes record_event's arguments; the IP is taken now, while the request is current."""
    event.setdefault("ip", current_ip())
    run_after_view(lambda: record_event(**event))


def record_trail_read(*, actor, trail: str, via: str, filters: dict | None = None) -> AuditEvent:
    """Someone read the audit trail (`trail`: the audit events or the access log) through `via`
    (admin or api), with these filters: the readers of the trail are on the trail too."""
    return record_event(
        action=AuditAction.AUDIT_READ,
        actor=actor,
        object_type=trail,
        summary={"via": via, "filters": filters or {}},
    )


def record_events(*, action: str, actor=None, objects, summary: dict | None = None) -> None:
    """The same action on many objects (an admin bulk delete): one row each, in one INSERT."""
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(**event_fields(action=action, actor=actor, obj=obj, summary=summary))
            for obj in objects
        ]
    )


def event_fields(
    *, action, actor=None, obj=None, object_type="", object_id="", summary=None, ip=None
) -> dict:
    if not is_audit_action(action):
        raise ValueError(
            f"Unknown audit action {action!r}: register it with crm.audit_actions."
            "register_audit_actions from its app's AppConfig.ready."
        )
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = str(obj)[:REPR_MAX_LENGTH]
    else:
        object_repr = ""
    if actor is not None and not actor.is_authenticated:
        actor = None
    return {
        "action": action,
        "actor": actor,
        "actor_username": actor.get_username() if actor is not None else "",
        "object_type": object_type,
        "object_id": str(object_id),
        "object_repr": object_repr,
        "summary": _json_safe(summary or {}),
        "ip": valid_ip(ip if ip is not None else current_ip()),
    }


def valid_ip(value: str | None) -> str | None:
    # The client IP may come from a header; a malformed one must not make the event fail to save.
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


class _SummaryEncoder(DjangoJSONEncoder):
    """Lazy strings, dates and decimals as DjangoJSONEncoder writes them; anything else as str."""

    def default(self, o):
        try:
            return super().default(o)
        except TypeError:
            return str(o)


def _json_safe(summary: dict) -> dict:
    return json.loads(json.dumps(summary, cls=_SummaryEncoder))
