"""One mapping from every error to the envelope {"success": false, "error": {...}}: DRF's
exception handler for the API views, and Django's 404 and 500 views for what never reaches one
(an unknown path, an uncaught exception) under /api/."""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from crm.api.inputs import ClientKey
from crm.errors import BusinessError
from crm.request_context import current_request_id

API_PREFIX = "/api/"


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
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = _fields(detail)
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


def not_found(request, exception):
    """handler404: the envelope under /api/, Django's page elsewhere."""
    if not request.path.startswith(API_PREFIX):
        return defaults.page_not_found(request, exception)
    body = {"code": "not_found", "message": _("Not found: check the path."), "fields": {}}
    return JsonResponse({"success": False, "error": body}, status=404)


def server_error(request):
    """handler500: Django has logged the exception with the request id (LOGGING); the client
    gets the same id, to quote when reporting it."""
    if not request.path.startswith(API_PREFIX):
        return defaults.server_error(request)
    request_id = current_request_id()
    body = {
        "code": "server_error",
        "message": _(
            "Something went wrong on our side. The error is logged; quote the request id "
            "%(request_id)s when you report it."
        )
        % {"request_id": request_id},
        "fields": {},
        "requestId": request_id,
    }
    return JsonResponse({"success": False, "error": body}, status=500)


def _error_response(status_code, code, message, fields, headers=None):
    body = {"code": code, "message": message, "fields": fields}
    return Response(body, status=status_code, headers=headers)


def _fields(detail):
    """DRF's error detail in the shape of the body: one message list per field, a nested object
    as a dict, a list as a dict of the failing positions ("0", "1" ...)."""
    if isinstance(detail, dict):
        return {_key(key): _fields(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if any(isinstance(item, dict | list) for item in detail):
            return {str(index): _fields(item) for index, item in enumerate(detail) if item}
        return [str(item) for item in detail]
    return [str(detail)]


def _key(key) -> str:
    if isinstance(key, int | ClientKey):
        return str(key)
    return _camel(key)


def _camel(name: str) -> str:
    if name == "non_field_errors":
        return "nonField"
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _first_message(fields, path=""):
    """The first error with the path of its field (`items[0].price: ...`), for `message`."""
    for key, value in fields.items():
        if key == "nonField":
            where = path
        elif key.isdigit() and path:
            where = f"{path}[{key}]"
        else:
            where = f"{path}.{key}" if path else key
        if isinstance(value, dict):
            found = _first_message(value, where)
            if found:
                return found
        elif value:
            return f"{where}: {value[0]}" if where else value[0]
    return None
