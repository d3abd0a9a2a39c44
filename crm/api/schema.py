"""The OpenAPI schema says what the API really sends (DESIGN.md, API conventions).

drf-spectacular describes each view's `data`; the renderer wraps it in {"success": true, "data":
...} and every error in {"success": false, "error": {...}} (crm.api.renderers, crm.api.errors).
One postprocessing hook brings the schema in line, so no view describes the envelope itself:

- every JSON success response is wrapped in the success envelope; a 204 has no content;
- every operation documents the error envelope for each status it can answer with: 400 when it
  takes a body or query parameters, 401 and 403 (every endpoint needs a permission), 404 when
  its path names a record, 409 when it writes (a duplicate, a record in use, a reused
  idempotency key), 415 when it takes a body, 429 (throttling), and any status its view
  documents itself;
- links from the operations that create a customer, an order or a tier to those that read or
  change it, so that a client (or the fuzzer) can follow them.

Request bodies refuse keys they do not define (crm.api.inputs), so their schemas say
`additionalProperties: false`; a body whose model checks its values gives each integer field
its column's range.
"""

from django.core.exceptions import FieldDoesNotExist
from django.core.validators import MaxValueValidator, MinValueValidator
from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework.fields import IntegerField

from crm.api.inputs import INTEGER_MAX

ERROR_ENVELOPE = "ErrorEnvelope"
ERROR_DESCRIPTIONS = {
    "400": "The request is invalid: error.fields names each field at fault.",
    "401": "No valid credentials: send Authorization: Token <key>.",
    "403": "The caller may not do this.",
    "404": "No such record, or no such path.",
    "409": "The request conflicts with the data as it is.",
    "415": "The body is not JSON: send Content-Type: application/json.",
    "429": "Too many requests: wait for Retry-After seconds.",
}
BODY_METHODS = {"post", "put", "patch"}
WRITE_METHODS = {*BODY_METHODS, "delete"}
JSON = "application/json"


class InputSerializerSchema(OpenApiSerializerExtension):
    target_class = "crm.api.inputs.InputSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
            model = self.target.checked_by_model
            if model is not None:
                _column_ranges(self.target, model, schema.get("properties", {}))
        return schema


def _column_ranges(serializer, model, properties: dict) -> None:
    """Each integer field's minimum and maximum: those of the model column it writes."""
    for name, field in serializer.fields.items():
        if not isinstance(field, IntegerField) or name not in properties:
            continue
        try:
            column = model._meta.get_field(field.source)
        except FieldDoesNotExist:
            continue
        for validator in column.validators:
            if isinstance(validator, MinValueValidator):
                properties[name]["minimum"] = validator.limit_value
            elif isinstance(validator, MaxValueValidator):
                properties[name]["maximum"] = validator.limit_value
        if properties[name].get("maximum", 0) <= INTEGER_MAX:
            properties[name]["format"] = "int32"


def envelope(result, generator, request, public):
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_ENVELOPE] = _error_schema()
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            _wrap_success(operation)
            for status in _error_statuses(path, method, operation):
                _document_error(operation, status)
    _add_links(result["paths"])
    return result


def _error_schema() -> dict:
    return {
        "type": "object",
        "required": ["success", "error"],
        "properties": {
            "success": {"type": "boolean", "enum": [False]},
            "error": {
                "type": "object",
                "required": ["code", "message", "fields"],
                "properties": {
                    "code": {"type": "string", "description": "validation_error, not_found ..."},
                    "message": {"type": "string", "description": "In the request's language."},
                    "fields": {
                        "type": "object",
                        "additionalProperties": True,
                        "description": (
                            "The fields at fault, shaped as the body: a list of messages per "
                            "field, a nested object as an object, a list's items by position "
                            '("0", "1" ...). nonField: errors of no one field.'
                        ),
                    },
                    "requestId": {
                        "type": "string",
                        "description": "On a server error: the id it is logged under.",
                    },
                },
            },
        },
    }


def _wrap_success(operation: dict) -> None:
    for status, response in operation.get("responses", {}).items():
        if not status.startswith("2"):
            continue
        if status == "204":
            response.pop("content", None)
            continue
        media = response.get("content", {}).get(JSON)
        if media is not None:
            media["schema"] = {
                "type": "object",
                "required": ["success", "data"],
                "properties": {
                    "success": {"type": "boolean", "enum": [True]},
                    "data": media.get("schema", {}),
                },
            }


def _error_statuses(path: str, method: str, operation: dict) -> list[str]:
    documented = [status for status in operation.get("responses", {}) if status >= "400"]
    statuses = {"401", "403", "429", *documented}
    takes_body = method in BODY_METHODS and "requestBody" in operation
    if takes_body or any(p["in"] == "query" for p in operation.get("parameters", [])):
        statuses.add("400")
    if takes_body:
        statuses.add("415")
    if "{" in path:
        statuses.add("404")
    if method in WRITE_METHODS:
        statuses.add("409")
    return sorted(statuses)


def _document_error(operation: dict, status: str) -> None:
    response = operation["responses"].setdefault(status, {})
    response["description"] = response.get("description") or ERROR_DESCRIPTIONS.get(status, "")
    response["content"] = {JSON: {"schema": {"$ref": f"#/components/schemas/{ERROR_ENVELOPE}"}}}


# (operation that creates, its status) -> {link name: (operationId, {parameter: where})}. The id
# of what was created is data.id in the envelope; an order's customer is data.customerId; a
# record under a customer or a tier keeps the parent's id from the request's path.
CREATED_ID = "$response.body#/data/id"
PARENT_ID = "$request.path.id"
ADDRESS = {"id": PARENT_ID, "address_id": CREATED_ID}
BENEFIT = {"id": PARENT_ID, "benefit_id": CREATED_ID}
LINKS = {
    ("customers_create", "201"): {
        "GetCustomer": ("customers_retrieve", {"id": CREATED_ID}),
        "ReplaceCustomer": ("customers_update", {"id": CREATED_ID}),
        "ChangeCustomer": ("customers_partial_update", {"id": CREATED_ID}),
        "ArchiveCustomer": ("customers_destroy", {"id": CREATED_ID}),
        "CustomerOrders": ("customers_orders_list", {"id": CREATED_ID}),
        "CustomerHistory": ("customers_history_list", {"id": CREATED_ID}),
        "CustomerPoints": ("customers_points_retrieve", {"id": CREATED_ID}),
        "AddAddress": ("customers_addresses_create", {"id": CREATED_ID}),
        "AddNote": ("customers_notes_create", {"id": CREATED_ID}),
        "RecordCommunication": ("customers_communications_create", {"id": CREATED_ID}),
    },
    ("orders_create", "201"): {
        "RefundOrder": ("orders_refund_create", {"id": CREATED_ID}),
        "OrderCustomer": ("customers_retrieve", {"id": "$response.body#/data/customerId"}),
        "OrderCustomerOrders": (
            "customers_orders_list",
            {"id": "$response.body#/data/customerId"},
        ),
    },
    ("customers_addresses_create", "201"): {
        "ChangeAddress": ("customers_addresses_partial_update", ADDRESS),
        "DeleteAddress": ("customers_addresses_destroy", ADDRESS),
    },
    ("customers_communications_create", "201"): {
        "MarkFollowUpDone": ("follow_ups_done_create", {"id": CREATED_ID}),
    },
    ("membership_levels_benefits_create", "201"): {
        "ReplaceBenefit": ("membership_levels_benefits_update", BENEFIT),
        "ChangeBenefit": ("membership_levels_benefits_partial_update", BENEFIT),
        "DeleteBenefit": ("membership_levels_benefits_destroy", BENEFIT),
        "UseBenefit": ("membership_benefits_use_create", {"id": CREATED_ID}),
    },
    ("membership_levels_create", "201"): {
        "GetTier": ("membership_levels_retrieve", {"id": CREATED_ID}),
        "ReplaceTier": ("membership_levels_update", {"id": CREATED_ID}),
        "ChangeTier": ("membership_levels_partial_update", {"id": CREATED_ID}),
        "DeleteTier": ("membership_levels_destroy", {"id": CREATED_ID}),
        "TierBenefits": ("membership_levels_benefits_list", {"id": CREATED_ID}),
        "AddTierBenefit": ("membership_levels_benefits_create", {"id": CREATED_ID}),
    },
}


def _add_links(paths: dict) -> None:
    operations = {
        operation["operationId"]: operation
        for methods in paths.values()
        for operation in methods.values()
    }
    for (source, status), links in LINKS.items():
        response = operations[source]["responses"][status]
        response["links"] = {
            name: {"operationId": target, "parameters": parameters}
            for name, (target, parameters) in links.items()
        }
