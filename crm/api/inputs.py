"""The base of every request body's serializer: what no body may get past, whichever endpoint.

A key the body does not define is refused (400 naming it) rather than ignored, so that a typo
(`birth_day`) is not silently dropped. An integer field without bounds of its own is held to the
range of PostgreSQL's `bigint`, the widest integer column (ids): past it a value cannot even be
compared with a column, so no query or write sees one. A field whose column is narrower bounds
itself (INTEGER_MAX), unless the model's validation checks it before the write (tiers and
benefits: membership.api.inputs.apply_body). The bounds are on the fields, so the schema shows
them.
"""

from collections.abc import Mapping
from contextlib import contextmanager

from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.fields import ListField

from crm.errors import BusinessError

BIGINT_MAX = 2**63 - 1
BIGINT_MIN = -(2**63)
INTEGER_MAX = 2**31 - 1


class ClientKey(str):
    """A key as the client sent it (an unknown field, a path into the body): reported as sent,
    not camel-cased like the names of our own fields."""


class InputSerializer(serializers.Serializer):
    default_error_messages = {"unknown_field": _("Unknown field: leave it out.")}
    # The model whose validation checks the body's values before the write, when it does
    # (apply_body): the schema then gives each integer field its column's range
    # (crm.api.schema), which this serializer leaves to that validation.
    checked_by_model = None

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            _bound_integers(field)
        return fields

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(ClientKey(key) for key in data if key not in writable)
            if unknown:
                message = self.error_messages["unknown_field"]
                raise serializers.ValidationError({key: [message] for key in unknown})
        return super().to_internal_value(data)


def _bound_integers(field) -> None:
    if isinstance(field, ListField):
        _bound_integers(field.child)
    if not isinstance(field, serializers.IntegerField) or field.read_only:
        return
    if field.max_value is None:
        field.max_value = BIGINT_MAX
        message = field.error_messages["max_value"].format(max_value=BIGINT_MAX)
        field.validators.append(MaxValueValidator(BIGINT_MAX, message=message))
    if field.min_value is None:
        field.min_value = BIGINT_MIN
        message = field.error_messages["min_value"].format(min_value=BIGINT_MIN)
        field.validators.append(MinValueValidator(BIGINT_MIN, message=message))


IDEMPOTENCY_HEADER = "Idempotency-Key"
# The services store a key with a short prefix of their own in 200 characters.
MAX_IDEMPOTENCY_KEY = 128

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        f"Up to {MAX_IDEMPOTENCY_KEY} characters. A request repeated with the same key is not "
        "applied again: it returns the first result. The same key with a different body is "
        "refused with 409."
    ),
)


def idempotency_key(request) -> str | None:
    """The request's Idempotency-Key (crm.idempotency), or None; 400 when it is too long."""
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise serializers.ValidationError(
            {IDEMPOTENCY_HEADER: [_("At most %(max)s characters.") % {"max": MAX_IDEMPOTENCY_KEY}]}
        )
    return key or None


@contextmanager
def field_of(error_class: type[BusinessError], field: str):
    """A service raises some errors without knowing which part of the request led to them (an
    unknown customer id, a reused idempotency key): name `field` for them."""
    try:
        yield
    except error_class as error:
        if not error.fields:
            error.fields = {field: [str(error.message)]}
        raise
