"""Typed business errors. Services raise them; the API maps each to a status and error code once."""

from django.utils.translation import gettext_lazy as _


class BusinessError(Exception):
    """A request that cannot be carried out as asked; the message says what to fix."""

    status = 400
    code = "invalid"

    def __init__(self, message=None, *, fields: dict | None = None):
        self.message = message or self.default_message
        self.fields = fields or {}
        super().__init__(str(self.message))

    default_message = _("The request is invalid.")


class Conflict(BusinessError):
    status = 409
    code = "conflict"
    default_message = _("The request conflicts with existing data.")


class NotAllowed(BusinessError):
    status = 403
    code = "permission_denied"
    default_message = _("You do not have permission to do this.")


class NotFound(BusinessError):
    status = 404
    code = "not_found"
    default_message = _("Not found.")


def violated_constraint(error) -> str | None:
    """The name of the constraint an IntegrityError from PostgreSQL violated, if it says."""
    return getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
