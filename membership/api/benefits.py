"""A customer's benefits (spec 2.2.4): what applies now, stacking resolved, recording the use of
one, and the usage records. Thin views over membership.services.benefits."""

from decimal import Decimal

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from crm.api.inputs import (
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_PARAMETER,
    InputSerializer,
    field_of,
    idempotency_key,
)
from crm.idempotency import IdempotencyKeyReused
from crm.permissions import HasPerms
from customers.models import Order
from membership.api.inputs import (
    customer_named,
    referenced,
    valid_body,
)
from membership.api.levels import BenefitSerializer
from membership.api.lists import BenefitUsageFilter, CustomerRowsListView
from membership.models import Benefit, BenefitUsage
from membership.services.benefits import customer_benefits, record_usage


class CustomerQuerySerializer(serializers.Serializer):
    customerId = serializers.IntegerField(min_value=1)
    orderAmount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text=(
            "The order's amount in yuan, to choose the best of an exclusive group on; "
            "without it, the customer's average order."
        ),
    )


class AppliedBenefitsSerializer(serializers.Serializer):
    level = serializers.CharField(help_text="The customer's tier code.")
    benefits = BenefitSerializer(many=True)
    discountPercent = serializers.DecimalField(
        source="discount_percent",
        max_digits=5,
        decimal_places=2,
        help_text="The applied discounts added up, at most 100.",
    )
    amountOff = serializers.DecimalField(
        source="amount_off",
        max_digits=12,
        decimal_places=2,
        help_text="The applied amounts off in yuan added up, at most the order's amount.",
    )
    pointsMultiplier = serializers.DecimalField(
        source="points_multiplier",
        max_digits=6,
        decimal_places=2,
        help_text="The applied multipliers' bonuses added up: 1.2 and 1.1 make 1.3.",
    )


class BenefitUseInputSerializer(InputSerializer):
    customerId = serializers.IntegerField(min_value=1)
    orderId = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    value = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        default=Decimal(0),
        help_text="What the benefit was worth on this use (yuan off, for example).",
    )
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class BenefitUsageSerializer(serializers.Serializer):
    id = serializers.CharField()
    customerId = serializers.CharField(source="customer_id")
    benefitId = serializers.CharField(source="benefit_id")
    type = serializers.CharField(source="benefit.kind")
    description = serializers.CharField(source="benefit.display_description")
    orderId = serializers.CharField(source="order_id", allow_null=True)
    value = serializers.DecimalField(max_digits=12, decimal_places=2)
    note = serializers.CharField()
    actor = serializers.CharField(source="actor.username", default=None, allow_null=True)
    usedAt = serializers.DateTimeField(source="used_at")
    reversedAt = serializers.DateTimeField(
        source="reversed_at",
        allow_null=True,
        help_text="When a full refund of its order reversed the use; it no longer counts.",
    )


class CustomerBenefitsView(GenericAPIView):
    serializer_class = AppliedBenefitsSerializer
    permission_classes = [HasPerms("membership.view_benefit")]

    @extend_schema(
        summary="The benefits that apply to a customer now",
        description=(
            "The active benefits of the customer's tier valid today. Benefits of one exclusive "
            "group do not stack: only the one worth most to the guest on orderAmount (or the "
            "customer's average order) is listed; the others add up. "
            "Needs membership.view_benefit."
        ),
        parameters=[CustomerQuerySerializer],
        responses={
            200: AppliedBenefitsSerializer,
            400: OpenApiResponse(description="customerId is missing or not a number."),
            404: OpenApiResponse(description="No such customer."),
        },
        tags=["membership"],
    )
    def get(self, request):
        query = CustomerQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        customer = customer_named(query.validated_data["customerId"], "level", "avg_order_value")
        applied = customer_benefits(customer, order_amount=query.validated_data.get("orderAmount"))
        payload = {
            "level": customer.level,
            "benefits": applied.benefits,
            "discount_percent": applied.discount_percent,
            "amount_off": applied.amount_off,
            "points_multiplier": applied.points_multiplier,
        }
        return Response(AppliedBenefitsSerializer(payload).data)


class BenefitUseView(GenericAPIView):
    serializer_class = BenefitUseInputSerializer
    permission_classes = [HasPerms("membership.add_benefitusage")]
    queryset = Benefit.objects.all()

    @extend_schema(
        summary="Record that a customer used a benefit",
        description=(
            "The benefit must apply to the customer now (their tier, its validity, stacking) "
            "and have uses left in its period (error code benefit_usage_limit_reached); "
            "orderId, when given, must be one of the customer's orders. A full refund of that "
            "order reverses the use. Audited. Needs membership.add_benefitusage."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=BenefitUseInputSerializer,
        responses={
            201: BenefitUsageSerializer,
            200: OpenApiResponse(
                BenefitUsageSerializer, description="A repeat of an earlier request's key."
            ),
            400: OpenApiResponse(
                description="The benefit does not apply or is used up, or a field is invalid."
            ),
            404: OpenApiResponse(description="No such benefit, customer or order."),
            409: OpenApiResponse(description="The Idempotency-Key was used for another request."),
        },
        tags=["membership"],
    )
    def post(self, request, pk):
        benefit = get_object_or_404(Benefit, pk=pk)
        data = valid_body(request, BenefitUseInputSerializer)
        key = idempotency_key(request)
        with field_of(IdempotencyKeyReused, IDEMPOTENCY_HEADER):
            use = record_usage(
                benefit=benefit,
                customer=customer_named(data["customerId"], "level", "avg_order_value"),
                order=referenced(
                    Order.objects.only("pk", "customer_id", "amount"),
                    data.get("orderId"),
                    field="orderId",
                    message=_("No order with this id."),
                ),
                value=data["value"],
                note=data["note"],
                actor=request.user,
                idempotency_key=key,
            )
        return Response(
            BenefitUsageSerializer(use.usage).data,
            status=status.HTTP_200_OK if use.repeated else status.HTTP_201_CREATED,
        )


@extend_schema_view(
    get=extend_schema(
        summary="Benefit usage records, newest first",
        description=(
            "One customer's (customerId) or everyone's. Needs membership.view_benefitusage."
        ),
        tags=["membership"],
    )
)
class BenefitUsageListView(CustomerRowsListView):
    serializer_class = BenefitUsageSerializer
    filterset_class = BenefitUsageFilter
    permission_classes = [HasPerms("membership.view_benefitusage")]
    queryset = BenefitUsage.objects.select_related("benefit", "actor")
