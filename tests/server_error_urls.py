"""The project's URLs plus one API view that fails, for the tests of the 500 envelope."""

from django.urls import path
from rest_framework.decorators import api_view

from crm.urls import handler404, handler500, urlpatterns

__all__ = ["handler404", "handler500", "urlpatterns"]


@api_view(["GET"])
def fail(request):
    raise RuntimeError("a bug")


urlpatterns = [path("api/v1/test-failure", fail), *urlpatterns]
