"""One mapping from every error to the envelope {"success": false, "error": {...}}."""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from crm.errors import BusinessError


def exception_handler(exc, context):
    if isinstance(exc, BusinessError):
        set_rollback()
        return _error_response(exc.status, exc.code, str(exc.message), exc.fields)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _camelize_keys(_flatten(exc.detail))
        return _error_response(
            status.HTTP_400_BAD_REQUEST,
            "validation_error",
            _first_message(fields) or _("The request is invalid."),
            fields,
            headers=response.headers,
        )
    code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    message = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    return _error_response(
        response.status_code, str(code), str(message), {}, headers=response.headers
    )


def _error_response(status_code, code, message, fields, headers=None):
    body = {"code": code, "message": message, "fields": fields}
    return Response(body, status=status_code, headers=headers)


def _flatten(detail):
    """DRF nests errors as lists of ErrorDetail; clients want one message list per field."""
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [str(item) for item in detail]
        return [_flatten(item) for item in detail]
    return [str(detail)]


def _camelize_keys(fields):
    if not isinstance(fields, dict):
        return fields
    return {_camel(key): _camelize_keys(value) for key, value in fields.items()}


def _camel(name: str) -> str:
    if name == "non_field_errors":
        return "nonField"
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _first_message(fields):
    for key, value in fields.items():
        while isinstance(value, list | dict):
            if isinstance(value, dict):
                value = next(iter(value.values()), None)
            else:
                value = value[0] if value else None
        if value:
            return value if key == "nonField" else f"{key}: {value}"
    return None
