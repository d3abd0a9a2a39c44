"""What the membership endpoints read from a request besides plain values: the records its body
names by id, and errors that name the part of the request to fix (the Idempotency-Key header:
crm.api.inputs)."""

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from crm.errors import NotFound
from customers.models import Customer


def valid_body(request, body_class) -> dict:
    """The request body validated by `body_class` (400 naming the fields otherwise)."""
    body = body_class(data=request.data)
    body.is_valid(raise_exception=True)
    return body.validated_data


def referenced(queryset, pk: int | None, *, field: str, message):
    """The row of `queryset` whose id the body's `field` gives (None when it gives none), or 404
    naming that field."""
    if pk is None:
        return None
    row = queryset.filter(pk=pk).first()
    if row is None:
        raise NotFound(message, fields={field: [str(message)]})
    return row


def customer_named(customer_id: int, *fields: str) -> Customer:
    """The customer the body's customerId names, with `fields`, or 404 naming customerId."""
    queryset = Customer.objects.only("pk", *fields)
    message = _("No customer with this id.")
    return referenced(queryset, customer_id, field="customerId", message=message)


def apply_body(request, instance, body_class, *, save, partial: bool) -> None:
    """Validate the request body with `body_class`, set what it gives on `instance` (the body's
    fields name the model's attributes by `source`) and `save()` it through its service; a model
    validation error comes back with the body's field names."""
    body = body_class(data=request.data, partial=partial)
    body.is_valid(raise_exception=True)
    for attribute, value in body.validated_data.items():
        setattr(instance, attribute, value)
    try:
        save()
    except DjangoValidationError as error:
        raise _body_errors(error, body) from None


def _body_errors(error: DjangoValidationError, body: serializers.Serializer):
    """A model's validation error, its fields named as `body` names them (nested ones too),
    ready to raise."""
    paths = _source_paths(body)
    fields: dict = {}
    for name, messages in error.message_dict.items():
        path = paths.get(name) or ("non_field_errors" if name == NON_FIELD_ERRORS else name,)
        node = fields
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node.setdefault(path[-1], []).extend(messages)
    return serializers.ValidationError(fields)


def _source_paths(serializer, prefix=()) -> dict[str, tuple[str, ...]]:
    """{model attribute: (body key, nested key ...)}, following nested serializers whose
    source is "*" (they read and write attributes of the same object)."""
    paths = {}
    for name, field in serializer.fields.items():
        if isinstance(field, serializers.Serializer) and field.source == "*":
            paths.update(_source_paths(field, (*prefix, name)))
        else:
            paths[field.source] = (*prefix, name)
    return paths
