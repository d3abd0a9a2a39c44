"""Memberships and tier changes (spec 2.2.2, 2.2.3): enrolment one by one and in batches, the
membership list, renewal and cancellation, a tier changed by hand and the history of tier
changes. Thin views over membership.services.enrollment and membership.services.levels."""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from crm.api.inputs import InputSerializer, field_of
from crm.errors import Conflict, NotFound
from crm.permissions import HasPerms
from customers.filters import batch_selection
from customers.models import Order
from membership.api.inputs import referenced, valid_body
from membership.api.lists import CustomerRowsListView, LevelChangeFilter, MembershipFilter
from membership.models import EnrollMethod, LevelChange, Membership, MembershipLevel
from membership.services import enrollment
from membership.services.levels import change_level

NO_TIER = _("No tier with this id.")


class EnrolmentTermsSerializer(InputSerializer):
    levelId = serializers.IntegerField(min_value=1)
    duration = serializers.IntegerField(
        help_text=f"Days, 1 to {enrollment.MAX_DURATION_DAYS}; the membership starts today."
    )
    method = serializers.ChoiceField(choices=EnrollMethod.choices, default=EnrollMethod.SYSTEM)
    source = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="Where the enrolment came from (a campaign, a store ...).",
    )


class PaymentInputSerializer(InputSerializer):
    orderId = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        help_text="The order that paid for it; an order pays once.",
    )
    paymentReference = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="The payment's reference; a reference pays once (a retry returns the result).",
    )


class EnrollInputSerializer(EnrolmentTermsSerializer, PaymentInputSerializer):
    customerId = serializers.IntegerField(min_value=1)


class RenewInputSerializer(PaymentInputSerializer):
    duration = serializers.IntegerField(
        help_text=f"Days to add after the current end date, 1 to {enrollment.MAX_DURATION_DAYS}."
    )
    method = serializers.ChoiceField(choices=EnrollMethod.choices, default=EnrollMethod.PURCHASE)


def _payment(data) -> enrollment.Payment:
    order = referenced(
        Order.objects.only("pk", "customer_id"),
        data.get("orderId"),
        field="orderId",
        message=_("No order with this id."),
    )
    return enrollment.Payment(order=order, reference=data.get("paymentReference") or None)


class EnrolledSerializer(serializers.Serializer):
    membershipId = serializers.CharField(source="pk")
    startDate = serializers.DateField(source="start_date")
    endDate = serializers.DateField(
        source="end_date", help_text="The day the membership ends: the first day without it."
    )


class EnrollBatchInputSerializer(EnrolmentTermsSerializer):
    customerIds = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_empty=False,
        max_length=enrollment.MAX_BATCH,
    )
    filter = serializers.DictField(
        required=False,
        help_text=(
            "The customer list's query parameters (level, status, source, tag, startDate, "
            "endDate, search); at least one."
        ),
    )

    def validate(self, attrs):
        if ("customerIds" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError(
                _("Give either customerIds (a list of customer ids) or filter (list filters).")
            )
        return attrs


class SkippedSerializer(serializers.Serializer):
    customerId = serializers.CharField()
    code = serializers.CharField(help_text="already_member, not_found, invalid ...")
    message = serializers.CharField()


class BatchEnrolledSerializer(serializers.Serializer):
    enrolled = serializers.IntegerField()
    memberships = serializers.ListField(child=serializers.CharField())
    skipped = SkippedSerializer(many=True)


class MembershipSerializer(serializers.Serializer):
    id = serializers.CharField()
    customerId = serializers.CharField(source="customer_id")
    levelId = serializers.CharField(source="level_id")
    level = serializers.CharField(source="level.code")
    startDate = serializers.DateField(source="start_date")
    endDate = serializers.DateField(source="end_date")
    status = serializers.CharField()
    method = serializers.CharField()
    source = serializers.CharField()
    actor = serializers.CharField(source="actor.username", default=None, allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")


class CancelInputSerializer(InputSerializer):
    reason = serializers.CharField(max_length=500)


class LevelChangeInputSerializer(InputSerializer):
    customerId = serializers.IntegerField(min_value=1)
    levelId = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(max_length=500)


class LevelChangeSerializer(serializers.Serializer):
    id = serializers.CharField()
    customerId = serializers.CharField(source="customer_id")
    # "from" is a Python keyword: the field is put in the class namespace by name.
    locals()["from"] = serializers.CharField(source="from_level", help_text="A tier code.")
    to = serializers.CharField(source="to_level", help_text="A tier code.")
    kind = serializers.CharField(help_text="automatic or manual.")
    reason = serializers.CharField()
    actor = serializers.CharField(source="actor.username", default=None, allow_null=True)
    notificationStatus = serializers.CharField(source="notification_status")
    createdAt = serializers.DateTimeField(source="created_at")


def _level(level_id: int) -> MembershipLevel:
    return referenced(MembershipLevel.objects.all(), level_id, field="levelId", message=NO_TIER)


class EnrollView(GenericAPIView):
    serializer_class = EnrollInputSerializer
    permission_classes = [HasPerms("membership.enroll_member")]

    @extend_schema(
        summary="Enrol a customer",
        description=(
            "Spec 4.2. A tier above the customer's takes effect at once; while the membership "
            "is active the customer stays at least in its tier. A customer with an active "
            "membership is refused with 409 already_member (renew it instead). With orderId or "
            "paymentReference, a retry returns the first enrolment; a payment already used "
            "for something else is 409 payment_already_used. Needs membership.enroll_member."
        ),
        request=EnrollInputSerializer,
        responses={
            201: EnrolledSerializer,
            400: OpenApiResponse(description="A field is invalid; error.fields names it."),
            404: OpenApiResponse(description="No such customer or tier."),
            409: OpenApiResponse(description="already_member: the customer is a member."),
        },
        tags=["membership"],
    )
    def post(self, request):
        data = valid_body(request, EnrollInputSerializer)
        with (
            field_of(NotFound, "customerId"),
            field_of(Conflict, "customerId"),
            field_of(enrollment.PaymentAlreadyUsed, "paymentReference"),
        ):
            membership = enrollment.enroll(
                customer_id=data["customerId"],
                level=_level(data["levelId"]),
                duration_days=data["duration"],
                method=data["method"],
                source=data["source"],
                actor=request.user,
                payment=_payment(data),
            )
        return Response(EnrolledSerializer(membership).data, status=status.HTTP_201_CREATED)


class EnrollBatchView(GenericAPIView):
    serializer_class = EnrollBatchInputSerializer
    permission_classes = [HasPerms("membership.enroll_member")]

    @extend_schema(
        summary="Enrol many customers",
        description=(
            f"The customers are customerIds, or those the customer list's filter selects (at "
            f"most {enrollment.MAX_BATCH:,}). Each is enrolled on its own: those who cannot be "
            "(already a member, archived, unknown) are skipped and listed with the reason. "
            "Needs membership.enroll_member."
        ),
        request=EnrollBatchInputSerializer,
        responses={
            200: BatchEnrolledSerializer,
            400: OpenApiResponse(description="A field or the filter is invalid."),
            404: OpenApiResponse(description="No such tier."),
        },
        tags=["membership"],
    )
    def post(self, request):
        data = valid_body(request, EnrollBatchInputSerializer)
        level = _level(data["levelId"])
        if "filter" in data:
            # One more than the service accepts, so that it refuses a selection too large.
            selected = batch_selection(data["filter"]).order_by("pk")
            customer_ids = list(selected.values_list("pk", flat=True)[: enrollment.MAX_BATCH + 1])
        else:
            customer_ids = data["customerIds"]
        result = enrollment.enroll_batch(
            customer_ids=customer_ids,
            level=level,
            duration_days=data["duration"],
            method=data["method"],
            source=data["source"],
            actor=request.user,
        )
        payload = {
            "enrolled": len(result.enrolled),
            "memberships": [membership.pk for membership in result.enrolled],
            "skipped": result.skipped,
        }
        return Response(BatchEnrolledSerializer(payload).data)


@extend_schema_view(
    get=extend_schema(
        summary="Memberships, newest first",
        description=(
            "One customer's (customerId) or everyone's, of one status or all. "
            "Needs membership.view_membership."
        ),
        tags=["membership"],
    )
)
class MembershipListView(CustomerRowsListView):
    serializer_class = MembershipSerializer
    filterset_class = MembershipFilter
    permission_classes = [HasPerms("membership.view_membership")]
    queryset = Membership.objects.select_related("level", "actor")


class MembershipCancelView(GenericAPIView):
    serializer_class = CancelInputSerializer
    permission_classes = [HasPerms("membership.change_membership")]
    queryset = Membership.objects.select_related("level", "actor")

    @extend_schema(
        summary="Cancel an active membership",
        description=(
            "The customer's tier then follows the rules again (a downgrade waits out the tier's "
            "grace period). Needs membership.change_membership."
        ),
        request=CancelInputSerializer,
        responses={
            200: MembershipSerializer,
            400: OpenApiResponse(description="The membership is not active, or no reason."),
        },
        tags=["membership"],
    )
    def post(self, request, pk):
        membership = get_object_or_404(Membership, pk=pk)
        data = valid_body(request, CancelInputSerializer)
        enrollment.cancel_membership(
            membership=membership, reason=data["reason"], actor=request.user
        )
        membership = self.get_queryset().get(pk=pk)
        return Response(MembershipSerializer(membership).data)


class MembershipRenewView(GenericAPIView):
    serializer_class = RenewInputSerializer
    permission_classes = [HasPerms("membership.enroll_member")]
    queryset = Membership.objects.select_related("level", "actor")

    @extend_schema(
        summary="Renew an active membership",
        description=(
            "Adds duration days after the current end date: the time left is kept. With "
            "orderId or paymentReference, a retry changes nothing and answers the membership; "
            "a payment already used for something else is 409 payment_already_used. Audited. "
            "Needs membership.enroll_member."
        ),
        request=RenewInputSerializer,
        responses={
            200: MembershipSerializer,
            400: OpenApiResponse(description="The membership is not active, or a field is bad."),
            404: OpenApiResponse(description="No such membership or order."),
            409: OpenApiResponse(description="payment_already_used"),
        },
        tags=["membership"],
    )
    def post(self, request, pk):
        membership = get_object_or_404(Membership, pk=pk)
        data = valid_body(request, RenewInputSerializer)
        with field_of(enrollment.PaymentAlreadyUsed, "paymentReference"):
            enrollment.renew_membership(
                membership=membership,
                duration_days=data["duration"],
                method=data["method"],
                payment=_payment(data),
                actor=request.user,
            )
        membership = self.get_queryset().get(pk=pk)
        return Response(MembershipSerializer(membership).data)


class LevelChangeView(GenericAPIView):
    serializer_class = LevelChangeInputSerializer
    permission_classes = [HasPerms("membership.change_customer_level")]

    @extend_schema(
        summary="Change a customer's tier by hand",
        description=(
            "The tier holds until the rules say otherwise (the next upgrade, or a downgrade "
            "after the grace period); to guarantee a tier for a period, enrol a membership. "
            "Recorded as a manual LevelChange and audited. "
            "Needs membership.change_customer_level."
        ),
        request=LevelChangeInputSerializer,
        responses={
            201: LevelChangeSerializer,
            400: OpenApiResponse(description="Already in this tier, or no reason."),
            404: OpenApiResponse(description="No such customer or tier."),
        },
        tags=["membership"],
    )
    def post(self, request):
        data = valid_body(request, LevelChangeInputSerializer)
        level = _level(data["levelId"])
        with field_of(NotFound, "customerId"):
            change = change_level(
                customer_id=data["customerId"],
                level_code=level.code,
                reason=data["reason"],
                actor=request.user,
            )
        return Response(LevelChangeSerializer(change).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        summary="Tier changes, newest first",
        description=(
            "One customer's (customerId) or everyone's, automatic and manual. "
            "Needs membership.view_levelchange."
        ),
        tags=["membership"],
    )
)
class LevelChangeListView(CustomerRowsListView):
    serializer_class = LevelChangeSerializer
    filterset_class = LevelChangeFilter
    permission_classes = [HasPerms("membership.view_levelchange")]
    queryset = LevelChange.objects.select_related("actor")
