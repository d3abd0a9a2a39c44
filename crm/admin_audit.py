"""Admin building blocks: every add, change and delete made in the admin becomes an AuditEvent.

Other apps' admins subclass AuditedModelAdmin. Django's own LogEntry (the admin's "history") is
still written; the AuditEvent is the one trail that also holds API, import and login events.
"""

from django.contrib import admin

from crm.audit import record_event, record_events
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


class ReadOnlyAdminMixin:
    """Viewable by whoever has the view permission; nobody adds, changes or deletes here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
