"""The kernel's endpoints: the audit trail, for managers."""

from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework.generics import ListAPIView

from crm.api.pagination import PagePagination
from crm.api.serializers import AuditEventSerializer
from crm.audit import record_trail_read
from crm.audit_actions import audit_action_choices
from crm.models import AuditEvent
from crm.permissions import HasPerms


class UtcIsoDateTimeField(IsoDateTimeField):
    """Python takes UTC offsets up to ±23:59, PostgreSQL only to ±15:59: the moment is passed on
    in UTC, so that any offset Python parses is one the database takes."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class AuditEventFilter(django_filters.FilterSet):
    # Each filter is an equality (or a range on created_at) that one of AuditEvent's indexes serves.
    action = django_filters.ChoiceFilter(choices=audit_action_choices, label=_("Action"))
    actor = django_filters.CharFilter(field_name="actor_username", label=_("Actor's username"))
    objectType = django_filters.CharFilter(
        field_name="object_type", label=_("Object type, e.g. customers.customer")
    )
    objectId = django_filters.CharFilter(field_name="object_id", label=_("Object id"))
    since = UtcDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label=_("At or after (ISO 8601)")
    )
    until = UtcDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label=_("Before (ISO 8601)")
    )

    class Meta:
        model = AuditEvent
        fields = []


# Query parameters that choose a page, not what is read.
PAGING_PARAMS = {"page", "limit", "cursor"}


class AuditEventListView(ListAPIView):
    permission_classes = [HasPerms("crm.view_auditevent")]
    serializer_class = AuditEventSerializer
    pagination_class = PagePagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = AuditEventFilter
    queryset = AuditEvent.objects.order_by("-created_at", "-id")

    @extend_schema(
        summary="List audit events",
        description=(
            "Logins, permission changes, reveals of personal data, exports, imports and every "
            "change, newest first. Needs the permission crm.view_auditevent (role manager). "
            "Each read is itself an audit event (audit_read)."
        ),
        tags=["audit"],
    )
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        filters = {k: v for k, v in request.query_params.items() if k not in PAGING_PARAMS}
        record_trail_read(actor=request.user, trail="crm.auditevent", via="api", filters=filters)
        return response
