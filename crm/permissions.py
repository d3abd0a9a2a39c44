"""DRF permission classes for the role model of crm.roles.

    permission_classes = [HasPerms("customers.view_customer")]
    permission_classes = [ModelPermissions]                    # the view's queryset model
    permission_classes = [ModelPermissions.for_model("customers.Customer")]

An anonymous request is refused with 401 (DRF: the first authenticator's `authenticate_header`),
an authenticated one without the permission with 403.
"""

from django.apps import apps
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission, DjangoModelPermissions


class _HasPermsBase(BasePermission):
    perms: tuple[str, ...] = ()
    message = _("You do not have permission to do this.")

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_perms(self.perms))


class _HasAnyPermBase(_HasPermsBase):
    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and any(user.has_perm(p) for p in self.perms))


def HasAnyPerm(*perms: str) -> type[BasePermission]:
    """A permission class that requires at least one of `perms` (the service decides the rest,
    e.g. a tag-only editor may change tags but no profile field)."""
    return _perm_class("HasAnyPerm_", _HasAnyPermBase, perms)


def HasPerms(*perms: str) -> type[BasePermission]:
    """A permission class that requires every one of `perms` ("app_label.codename")."""
    return _perm_class("HasPerms_", _HasPermsBase, perms)


def _perm_class(prefix: str, base: type[BasePermission], perms) -> type[BasePermission]:
    if not perms or not all(isinstance(p, str) and "." in p for p in perms):
        raise ValueError(f"{prefix[:-1]} takes one or more 'app_label.codename' strings.")
    name = prefix + "_".join(p.replace(".", "_") for p in perms)
    return type(name, (base,), {"perms": tuple(perms), "__module__": __name__})


class ModelPermissions(DjangoModelPermissions):
    """view_ for GET and HEAD (DjangoModelPermissions lets any user read), add_ for POST,
    change_ for PUT and PATCH, delete_ for DELETE, on the view's queryset model or on `model`."""

    model: str | type | None = None
    message = _("You do not have permission to do this.")
    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    @classmethod
    def for_model(cls, model: str | type) -> type["ModelPermissions"]:
        """`ModelPermissions.for_model("customers.Customer")`, for views without a queryset."""
        label = model if isinstance(model, str) else model._meta.label
        return type(f"ModelPermissions_{label.replace('.', '_')}", (cls,), {"model": model})

    def _queryset(self, view):
        if self.model is None:
            return super()._queryset(view)
        model = apps.get_model(self.model) if isinstance(self.model, str) else self.model
        return model._default_manager.none()


def permissions_by_method(view, perms_by_method: dict) -> list[BasePermission]:
    """For a view's get_permissions(): the permissions its request method needs, a list of
    names (all needed) or a permission class. HEAD and OPTIONS need GET's; a method the view
    does not serve gets none, so DRF answers 405."""
    method = "GET" if view.request.method in {"HEAD", "OPTIONS"} else view.request.method
    perms = perms_by_method.get(method)
    if not perms:
        return []
    return [perms() if isinstance(perms, type) else HasPerms(*perms)()]
