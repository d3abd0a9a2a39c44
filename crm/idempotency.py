"""Idempotency keys (DESIGN.md: a retried request has no double effect): a client names each
money-moving request with a key; the service stores the key with a fingerprint of the request,
returns the first result to a retry, and refuses the key for a different request."""

import hashlib
import json

from django.utils.translation import gettext_lazy as _

from crm.errors import Conflict


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    default_message = _(
        "This Idempotency-Key was already used for a different request; send a new key."
    )


def fingerprint(**request) -> str:
    """A digest of what a request asked for, to tell a retry from a different request that
    reuses its idempotency key."""
    payload = json.dumps(request, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()
