"""POST /api/v1/events: a batch of behaviour events from the apps and mini-programs. Thin view:
each event's shape checked by EventInputSerializer, the rest by profiles.services.events."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from crm.api.inputs import INTEGER_MAX, InputSerializer
from crm.permissions import HasPerms
from crm.pii import normalize_phone
from crm.request_context import client_ip
from profiles.models import DeviceClass, EventChannel, EventType
from profiles.roles import RECORD
from profiles.services.events import MAX_BATCH, record_events

# The service's field names as the client sent them.
CLIENT_FIELDS = {
    "occurred_at": "timestamp",
    "duration_seconds": "duration",
    "session_id": "sessionId",
}


class EventInputSerializer(InputSerializer):
    customerId = serializers.IntegerField(
        min_value=1, required=False, source="customer_id", help_text="Or phone."
    )
    phone = serializers.CharField(max_length=32, required=False, help_text="Or customerId.")
    type = serializers.ChoiceField(choices=EventType.choices)
    channel = serializers.ChoiceField(choices=EventChannel.choices)
    device = serializers.ChoiceField(
        choices=DeviceClass.choices,
        required=False,
        help_text="When left out: from the User-Agent header (mobile, tablet, pc or unknown).",
    )
    dish = serializers.CharField(max_length=100, required=False, allow_blank=True)
    category = serializers.CharField(max_length=50, required=False, allow_blank=True)
    sessionId = serializers.CharField(
        max_length=64, required=False, allow_blank=True, source="session_id"
    )
    duration = serializers.IntegerField(
        min_value=0,
        max_value=INTEGER_MAX,
        required=False,
        source="duration_seconds",
        help_text="Seconds.",
    )
    timestamp = serializers.DateTimeField(
        source="occurred_at", help_text="When it happened, with its time zone."
    )

    def validate_phone(self, value):
        try:
            return normalize_phone(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None

    def validate(self, attrs):
        if ("customer_id" in attrs) == ("phone" in attrs):
            raise serializers.ValidationError(
                {"customerId": [_("Give either customerId or phone.")]}
            )
        return attrs


@extend_schema_field(EventInputSerializer(many=True))
class EventsField(serializers.ListField):
    """The events, each checked on its own by the view: one bad event must not refuse the
    batch, so the list takes any JSON value and the schema shows the event's shape."""

    child = serializers.JSONField()


class EventBatchInputSerializer(InputSerializer):
    events = EventsField(min_length=1, max_length=MAX_BATCH)


class RejectedEventSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The event's place in the batch, from 0.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages by field, as the event named them.",
    )


class EventsRecordedSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored.")
    rejected = RejectedEventSerializer(many=True)


class EventBatchView(GenericAPIView):
    permission_classes = [HasPerms(RECORD)]
    serializer_class = EventBatchInputSerializer

    @extend_schema(
        summary="Record a batch of behaviour events (apps, mini-programs, stores)",
        description=(
            f"Up to {MAX_BATCH} events. Each is checked on its own: the good ones are stored, "
            "the bad ones listed in `rejected` by their index with the reasons, and the response "
            "is 200 either way (like a 207 Multi-Status; resend only the rejected ones after "
            "fixing them). Not idempotent: a resent event is stored again. The sender's IP is "
            "kept only as its /24 (IPv6: /48) network and the User-Agent only as the device "
            "class. Needs profiles.record_events."
        ),
        request=EventBatchInputSerializer,
        responses={
            200: EventsRecordedSerializer,
            400: OpenApiResponse(description="The body is not a list of 1 to 500 events."),
        },
        tags=["events"],
    )
    def post(self, request):
        body = EventBatchInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        valid, rejected = {}, {}
        for index, raw in enumerate(body.validated_data["events"]):
            event = EventInputSerializer(data=raw)
            if event.is_valid():
                valid[index] = event.validated_data
            else:
                rejected[index] = {
                    str(name): [str(message) for message in messages]
                    for name, messages in event.errors.items()
                }
        result = record_events(
            events=valid, ip=client_ip(request), user_agent=request.headers.get("User-Agent", "")
        )
        for index, errors in result.rejected.items():
            rejected[index] = {_client_field(valid[index], name): m for name, m in errors.items()}
        data = {
            "accepted": result.accepted,
            "rejected": [{"index": i, "errors": rejected[i]} for i in sorted(rejected)],
        }
        return Response(EventsRecordedSerializer(data).data)


def _client_field(event: dict, name: str) -> str:
    if name == "customer":
        return "customerId" if event.get("customer_id") is not None else "phone"
    return CLIENT_FIELDS.get(name, name)
