"""DRF permission helpers: HasPerms(...) and ModelPermissions (GET needs view_)."""

import pytest
from django.contrib.auth.models import AnonymousUser
from rest_framework.generics import GenericAPIView
from rest_framework.test import APIRequestFactory

from crm.models import ApiToken
from crm.permissions import HasPerms, ModelPermissions

pytestmark = pytest.mark.django_db


class TokenView(GenericAPIView):
    queryset = ApiToken.objects.all()


def allowed(permission_class, user, method="get"):
    request = getattr(APIRequestFactory(), method)("/")
    request.user = user
    view = TokenView()
    view.request = request
    return permission_class().has_permission(request, view)


def test_has_perms_requires_every_permission(make_user):
    manager = make_user("boss", roles=["manager"])
    clerk = make_user("clerk", roles=["customer_service"])
    permission = HasPerms("customers.view_customer", "crm.view_auditevent")

    assert allowed(permission, manager) is True
    assert allowed(permission, clerk) is False
    assert allowed(permission, AnonymousUser()) is False


def test_has_perms_refuses_a_malformed_permission_name():
    with pytest.raises(ValueError, match=r"app_label\.codename"):
        HasPerms("view_customer")


def test_model_permissions_require_view_for_get(make_user):
    finance = make_user("cashier", roles=["finance"])  # no crm.view_apitoken

    assert allowed(ModelPermissions, finance) is False


@pytest.mark.parametrize(
    ("method", "granted"), [("get", True), ("post", True), ("patch", True), ("delete", False)]
)
def test_model_permissions_map_methods_to_view_add_change_delete(make_user, method, granted):
    manager = make_user("boss", roles=["manager"])  # view/add/change apitoken, not delete

    assert allowed(ModelPermissions, manager, method) is granted


def test_model_permissions_for_a_named_model_ignore_the_views_queryset(make_user):
    clerk = make_user("clerk", roles=["customer_service"])

    assert allowed(ModelPermissions.for_model("customers.Customer"), clerk) is True
    assert allowed(ModelPermissions.for_model("customers.Customer"), clerk, "delete") is False
    assert allowed(ModelPermissions, clerk) is False  # the view's model: ApiToken
