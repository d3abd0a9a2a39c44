"""Admin building blocks: every add, change and delete made in the admin becomes an AuditEvent.

Other apps' admins subclass AuditedModelAdmin. Django's own LogEntry (the admin's "history") is
still written; the AuditEvent is the one trail that also holds API, import and login events.
"""

from django.contrib import admin

from crm.audit import record_event, record_events, record_trail_read
from crm.audit_actions import AuditAction


class AuditedModelAdmin(admin.ModelAdmin):
    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        record_event(
            action=AuditAction.CREATE,
            actor=request.user,
            obj=obj,
            summary={"via": "admin", "changeMessage": message},
        )
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        record_event(
            action=AuditAction.UPDATE,
            actor=request.user,
            obj=obj,
            summary={"via": "admin", "changeMessage": message},
        )
        return entry

    def log_deletions(self, request, queryset):
        # Called before the rows are deleted, for the delete view and the bulk delete action.
        entries = super().log_deletions(request, queryset)
        record_events(
            action=AuditAction.DELETE,
            actor=request.user,
            objects=queryset,
            summary={"via": "admin"},
        )
        return entries


class TrailReadAdminMixin:
    """For the screens of the audit trail itself: each list or record viewed is an audit event
    (crm.audit.record_trail_read), with the filters used."""

    # Query parameters that choose a page or an order, not what is read.
    NOT_FILTERS = {"p", "o"}

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if request.method == "GET" and response.status_code == 200:
            filters = {k: v for k, v in request.GET.items() if k not in self.NOT_FILTERS}
            self._record_read(request, filters)
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            self._record_read(request, {"id": str(object_id)})
        return response

    def _record_read(self, request, filters):
        record_trail_read(
            actor=request.user, trail=self.model._meta.label_lower, via="admin", filters=filters
        )


class ReadOnlyAdminMixin:
    """Viewable by whoever has the view permission; nobody adds, changes or deletes here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
