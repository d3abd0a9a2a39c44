"""Communication records and follow-up reminders (spec 2.5.4): a customer's communications, the
due follow-ups (the caller's, a colleague's or the team's), marking one done, reassigning and
rescheduling one. Thin views: validate, call customers.services.communications / follow_ups or a
selector, shape the JSON."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from crm.access_log import register_read
from crm.api.inputs import INTEGER_MAX, InputSerializer
from crm.api.pagination import PagePagination
from crm.permissions import HasPerms, permissions_by_method
from customers.models import Communication, CommunicationChannel, Customer, Order
from customers.pii_access import RevealContext, can_reveal, record_reveal, shown_phone
from customers.selectors import FOLLOW_UP_WINDOWS, customer_communications, follow_ups_due
from customers.services import communications, follow_ups

# The service names fields as the model does; the API as its body does.
API_FIELDS = {
    "order": "orderId",
    "follow_up_at": "followUpAt",
    "occurred_at": "occurredAt",
    "owner": "ownerId",
}


def api_errors(error: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(
        {API_FIELDS.get(field, field): messages for field, messages in error}
    )


class CommunicationInputSerializer(InputSerializer):
    channel = serializers.ChoiceField(choices=CommunicationChannel.choices)
    content = serializers.CharField(max_length=5000)
    result = serializers.CharField(max_length=2000)
    orderId = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    occurredAt = serializers.DateTimeField(required=False, allow_null=True)
    followUpAt = serializers.DateTimeField(required=False, allow_null=True)


class FollowUpChangeSerializer(InputSerializer):
    ownerId = serializers.IntegerField(min_value=1, max_value=INTEGER_MAX, required=False)
    followUpAt = serializers.DateTimeField(required=False)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def validate(self, attrs):
        if "ownerId" not in attrs and "followUpAt" not in attrs:
            raise serializers.ValidationError(
                _("Send ownerId to reassign the follow-up, followUpAt to reschedule it, or both.")
            )
        return attrs


class CommunicationSerializer(serializers.Serializer):
    id = serializers.CharField()
    channel = serializers.CharField()
    content = serializers.CharField()
    result = serializers.CharField()
    orderId = serializers.CharField(source="order_id", allow_null=True)
    staff = serializers.CharField(source="staff.username", default=None, allow_null=True)
    occurredAt = serializers.DateTimeField(source="occurred_at")
    followUpAt = serializers.DateTimeField(source="follow_up_at", allow_null=True)
    followUpOwner = serializers.CharField(
        source="follow_up_owner.username", default=None, allow_null=True
    )
    followUpDoneAt = serializers.DateTimeField(source="follow_up_done_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")


class FollowUpCustomerSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    phone = serializers.SerializerMethodField()

    def get_phone(self, customer) -> str | None:
        return shown_phone(customer.phone, reveal=self.context.get("reveal", False))


class FollowUpSerializer(serializers.Serializer):
    id = serializers.CharField()
    customer = FollowUpCustomerSerializer()
    channel = serializers.CharField()
    content = serializers.CharField()
    result = serializers.CharField()
    followUpAt = serializers.DateTimeField(source="follow_up_at")
    followUpOwner = serializers.CharField(
        source="follow_up_owner.username", default=None, allow_null=True
    )
    followUpDoneAt = serializers.DateTimeField(source="follow_up_done_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")


class CustomerCommunicationListView(GenericAPIView):
    serializer_class = CommunicationSerializer
    pagination_class = PagePagination

    def get_permissions(self):
        return permissions_by_method(
            self,
            {
                "GET": ["customers.view_communication"],
                "POST": ["customers.add_communication"],
            },
        )

    def get_queryset(self):
        return Communication.objects.all()

    @extend_schema(
        summary="A customer's communications, newest first",
        description="Needs customers.view_communication.",
        responses=CommunicationSerializer(many=True),
        tags=["communications"],
    )
    def get(self, request, pk):
        customer = get_object_or_404(Customer.objects.only("pk"), pk=pk)
        page = self.paginate_queryset(customer_communications(customer_id=customer.pk))
        if page:
            register_read(customer_ids=[customer.pk], count=len(page))
        return self.get_paginated_response(CommunicationSerializer(page, many=True).data)

    @extend_schema(
        summary="Record a communication with a customer",
        description=(
            "channel (phone, online, in_person), content and result are required. orderId must "
            "be one of this customer's orders. occurredAt (optional, default now, not in the "
            "future) is when the conversation took place. followUpAt (optional, not in the "
            "past) sets a follow-up reminder owned by the caller. Needs "
            "customers.add_communication."
        ),
        request=CommunicationInputSerializer,
        responses={
            201: CommunicationSerializer,
            400: OpenApiResponse(description="A field is missing or invalid."),
        },
        tags=["communications"],
    )
    def post(self, request, pk):
        customer = get_object_or_404(Customer.objects.only("pk"), pk=pk)
        body = CommunicationInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        order = None
        if data.get("orderId") is not None:
            order = Order.objects.only("pk", "customer_id").filter(pk=data["orderId"]).first()
            if order is None:
                raise serializers.ValidationError({"orderId": [_("No order with this id.")]})
        try:
            communication = communications.communication_record(
                customer=customer,
                actor=request.user,
                channel=data["channel"],
                content=data["content"],
                result=data["result"],
                order=order,
                follow_up_at=data.get("followUpAt"),
                occurred_at=data.get("occurredAt"),
            )
        except DjangoValidationError as error:
            raise api_errors(error) from None
        return Response(CommunicationSerializer(communication).data, status=status.HTTP_201_CREATED)


class FollowUpListView(GenericAPIView):
    serializer_class = FollowUpSerializer
    pagination_class = PagePagination
    permission_classes = [HasPerms("customers.view_communication")]

    def get_queryset(self):
        return Communication.objects.all()

    @extend_schema(
        summary="Open follow-ups, soonest first: the caller's, a colleague's or the team's",
        description=(
            "due=today (default): due today in the server's time zone; overdue: due before now; "
            "week: due within the next 7 days. owner=me (default) lists the caller's; owner=all "
            "the whole team's, owner=<user id> one colleague's: both need "
            "customers.change_communication (managers). Phones are masked unless the caller may "
            "reveal them (then the reveal is audited). Needs customers.view_communication."
        ),
        parameters=[
            OpenApiParameter(
                "due", str, enum=list(FOLLOW_UP_WINDOWS), default="today", required=False
            ),
            OpenApiParameter(
                "owner",
                str,
                default="me",
                required=False,
                pattern=r"^(me|all|[1-9][0-9]{0,9})$",
                description="me, all, or a staff member's user id.",
            ),
        ],
        responses=FollowUpSerializer(many=True),
        tags=["communications"],
    )
    def get(self, request):
        due = request.query_params.get("due") or "today"
        if due not in FOLLOW_UP_WINDOWS:
            raise serializers.ValidationError(
                {"due": [_("Use today, overdue or week.")]},
            )
        owner = self._owner(request)
        page = self.paginate_queryset(follow_ups_due(owner=owner, due=due))
        register_read(customer_ids=[item.customer_id for item in page], count=len(page))
        reveal = can_reveal(request.user)
        if reveal:
            customers = {item.customer_id: item.customer for item in page}
            record_reveal(
                actor=request.user,
                customers=customers.values(),
                context=RevealContext.API_FOLLOW_UPS,
            )
        data = FollowUpSerializer(page, many=True, context={"reveal": reveal}).data
        return self.get_paginated_response(data)

    def _owner(self, request):
        """The owner whose follow-ups are asked for; None is the whole team."""
        chosen = request.query_params.get("owner") or "me"
        if chosen == "me":
            return request.user
        if chosen == "all":
            follow_ups.check_may_see_team(request.user)
            return None
        if not (chosen.isdigit() and int(chosen) <= INTEGER_MAX):
            raise serializers.ValidationError({"owner": [_("Use me, all or a user id.")]})
        follow_ups.check_may_see_team(request.user)
        return _staff_member(int(chosen), field="owner")


class FollowUpDetailView(GenericAPIView):
    serializer_class = CommunicationSerializer
    permission_classes = [HasPerms("customers.view_communication")]

    def get_queryset(self):
        return Communication.objects.all()

    @extend_schema(
        summary="Reassign or reschedule a follow-up",
        description=(
            "ownerId hands the open follow-up to a colleague (an active staff member who may see "
            "communications); followUpAt (not in the past) moves it. The owner may do both, and "
            "so may anyone with customers.change_communication. Audited."
        ),
        request=FollowUpChangeSerializer,
        responses={
            200: CommunicationSerializer,
            400: OpenApiResponse(description="A field is invalid, or the follow-up is done."),
            403: OpenApiResponse(description="Not the caller's follow-up."),
        },
        tags=["communications"],
    )
    def patch(self, request, pk):
        communication = get_object_or_404(Communication, pk=pk)
        body = FollowUpChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        owner = _staff_member(data["ownerId"], field="ownerId") if "ownerId" in data else None
        try:
            follow_ups.follow_up_change(
                communication=communication,
                actor=request.user,
                owner=owner,
                follow_up_at=data.get("followUpAt"),
                reason=data.get("reason", ""),
            )
        except DjangoValidationError as error:
            raise api_errors(error) from None
        return Response(CommunicationSerializer(_shown(communication.pk)).data)


def _staff_member(pk: int, *, field: str):
    owner = get_user_model().objects.filter(pk=pk).first()
    if owner is None:
        raise serializers.ValidationError({field: [_("No staff member with this id.")]})
    return owner


def _shown(pk) -> Communication:
    return Communication.objects.select_related("staff", "follow_up_owner").get(pk=pk)


class FollowUpDoneView(GenericAPIView):
    serializer_class = CommunicationSerializer
    permission_classes = [HasPerms("customers.view_communication")]

    def get_queryset(self):
        return Communication.objects.all()

    @extend_schema(
        summary="Mark a follow-up done",
        description=(
            "Idempotent: a follow-up already done is returned unchanged. The staff member who "
            "owns it may mark it done, and so may anyone with customers.change_communication."
        ),
        request=None,
        responses={
            200: CommunicationSerializer,
            400: OpenApiResponse(description="The communication has no follow-up."),
            403: OpenApiResponse(description="Not the caller's follow-up."),
        },
        tags=["communications"],
    )
    def post(self, request, pk):
        communication = get_object_or_404(Communication, pk=pk)
        follow_ups.follow_up_mark_done(communication=communication, actor=request.user)
        return Response(CommunicationSerializer(_shown(communication.pk)).data)
