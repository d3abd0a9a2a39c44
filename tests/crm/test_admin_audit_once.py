"""Each admin write is audited once. Two things record audit events: AuditedModelAdmin's hook on
Django's log entries, and the services. An admin that saves through services while also being an
AuditedModelAdmin writes every event twice (an address added inline, an admin communication did):
so an admin is one or the other, on every registered screen, today's and tomorrow's."""

from django.contrib import admin
from django.contrib.admin.models import LogEntry

from crm.admin_audit import AuditedModelAdmin
from crm.settings.base import DJANGO_APPS, THIRD_PARTY_APPS

# The ModelAdmin methods through which an admin writes rows its own way (through a service).
WRITE_METHODS = ("save_model", "save_related", "save_formset", "delete_model", "delete_queryset")
# Django's and the libraries' overrides save rows the Django way (simple-history's save_model
# only notes the history user).
LIBRARIES = {app.split(".")[0] for app in DJANGO_APPS + THIRD_PARTY_APPS}


def own_writes(model_admin) -> list[str]:
    """The write methods `model_admin`'s class takes from our own code."""
    return [
        name
        for name in WRITE_METHODS
        if getattr(type(model_admin), name).__module__.split(".")[0] not in LIBRARIES
    ]


def test_no_audited_admin_writes_through_its_own_methods():
    twice = {
        str(model_admin): own_writes(model_admin)
        for model_admin in admin.site._registry.values()
        if isinstance(model_admin, AuditedModelAdmin) and own_writes(model_admin)
    }
    # Each of these would record its writes twice: make it a crm.admin_base.ServiceSaveAdmin.
    assert twice == {}


def test_the_guard_sees_an_audited_admin_that_saves_through_a_service():
    class Twice(AuditedModelAdmin):
        def save_model(self, request, obj, form, change):
            pass  # as if a service saved (and audited) it

    assert own_writes(Twice(LogEntry, admin.site)) == ["save_model"]
