"""Response shapes of the kernel's endpoints, keys in camelCase."""

from rest_framework import serializers

from crm.audit_actions import audit_action_choices


class AuditEventSerializer(serializers.Serializer):
    id = serializers.CharField(read_only=True)
    actor = serializers.CharField(source="actor_username", read_only=True)
    action = serializers.ChoiceField(choices=audit_action_choices(), read_only=True)
    objectType = serializers.CharField(source="object_type", read_only=True)
    objectId = serializers.CharField(source="object_id", read_only=True)
    objectRepr = serializers.CharField(source="object_repr", read_only=True)
    ip = serializers.IPAddressField(read_only=True, allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    summary = serializers.JSONField(read_only=True)
