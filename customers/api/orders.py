"""Order endpoints (issue 4): record an order from the ordering/POS system, refund it, and list a
customer's orders. Thin views: validate, call customers.services (record_order, refund_order) or
a selector, shape the JSON."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from crm.access_log import register_read
from crm.api.inputs import (
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_PARAMETER,
    INTEGER_MAX,
    InputSerializer,
    field_of,
    idempotency_key,
)
from crm.api.pagination import PagePagination
from crm.idempotency import IdempotencyKeyReused
from crm.permissions import HasPerms
from crm.pii import normalize_phone
from customers.models import Customer, Order, OrderChannel, PaymentMethod
from customers.selectors import customer_orders
from customers.services import orders

MONEY = {"max_digits": 12, "decimal_places": 2}


class OrderCustomerInputSerializer(InputSerializer):
    phone = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    def validate_phone(self, value):
        try:
            return normalize_phone(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None


class OrderItemSerializer(InputSerializer):
    dish = serializers.CharField(max_length=100)
    category = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    tastes = serializers.ListField(
        child=serializers.CharField(max_length=20), required=False, default=list
    )
    quantity = serializers.IntegerField(min_value=1, max_value=INTEGER_MAX)
    price = serializers.DecimalField(**MONEY, min_value=0, coerce_to_string=False)


class OrderInputSerializer(InputSerializer):
    externalId = serializers.CharField(max_length=64)
    source = serializers.CharField(max_length=32)
    storeId = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    channel = serializers.ChoiceField(choices=OrderChannel.choices, default=OrderChannel.OTHER)
    customer = OrderCustomerInputSerializer(required=False)
    customerId = serializers.IntegerField(min_value=1, required=False)
    placedAt = serializers.DateTimeField()
    amount = serializers.DecimalField(**MONEY, min_value=0)
    discount = serializers.DecimalField(**MONEY, min_value=0, required=False, default=0)
    paymentMethod = serializers.ChoiceField(
        choices=PaymentMethod.choices, required=False, default=PaymentMethod.OTHER
    )
    currency = serializers.CharField(
        max_length=3, required=False, default="CNY", help_text="Only CNY is accepted for now."
    )
    pointsUsed = serializers.IntegerField(
        min_value=0,
        max_value=INTEGER_MAX,
        required=False,
        default=0,
        help_text=(
            "Points paid on the order. Points redeemed for it beforehand (points/redeem with "
            "this source and externalId) are linked to it and are its pointsUsed: a different "
            "number is refused. Without such a redemption, they are redeemed now, within the "
            "balance and the policy's share of the order."
        ),
    )
    items = OrderItemSerializer(many=True, allow_empty=False)

    def validate(self, attrs):
        if ("customer" in attrs) == ("customerId" in attrs):
            raise serializers.ValidationError(
                {"customer": [_("Give either customer {phone, name} or customerId.")]}
            )
        return attrs


class OrderRecordedSerializer(serializers.Serializer):
    id = serializers.CharField()
    customerId = serializers.CharField()
    customerCreated = serializers.BooleanField()


class RefundInputSerializer(InputSerializer):
    amount = serializers.DecimalField(**MONEY, min_value=0)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class OrderRefundedSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.CharField()
    amount = serializers.DecimalField(**MONEY)
    discount = serializers.DecimalField(**MONEY)
    refundedAmount = serializers.DecimalField(source="refunded_amount", **MONEY)


class OrderSerializer(serializers.Serializer):
    id = serializers.CharField()
    externalId = serializers.CharField(source="external_id")
    source = serializers.CharField()
    storeId = serializers.CharField(source="store_id")
    channel = serializers.CharField()
    placedAt = serializers.DateTimeField(source="placed_at")
    amount = serializers.DecimalField(**MONEY)
    discount = serializers.DecimalField(**MONEY)
    currency = serializers.CharField()
    pointsUsed = serializers.IntegerField(source="points_used")
    paymentMethod = serializers.CharField(source="payment_method")
    status = serializers.CharField()
    refundedAmount = serializers.DecimalField(source="refunded_amount", **MONEY)
    items = OrderItemSerializer(many=True, source="items.all")


class OrderCreateView(GenericAPIView):
    serializer_class = OrderInputSerializer
    permission_classes = [HasPerms("customers.add_order")]

    @extend_schema(
        summary="Record an order (ordering/POS system)",
        description=(
            "Finds the customer by phone or creates one from the order (source = channel), stores "
            "the order once per (source, externalId) and updates the customer's totals. A repeat "
            "returns the first result with 200. Needs customers.add_order."
        ),
        request=OrderInputSerializer,
        responses={201: OrderRecordedSerializer, 200: OrderRecordedSerializer},
        tags=["orders"],
    )
    def post(self, request):
        body = OrderInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        order, customer, customer_created, created = orders.record_order(
            actor=request.user,
            source=data["source"],
            external_id=data["externalId"],
            store_id=data["storeId"],
            channel=data["channel"],
            placed_at=data["placedAt"],
            amount=data["amount"],
            discount=data["discount"],
            currency=data["currency"],
            points_used=data["pointsUsed"],
            payment_method=data["paymentMethod"],
            customer_id=data.get("customerId"),
            customer_data=data.get("customer"),
            items=[dict(item) for item in data["items"]],
        )
        payload = {"id": order.pk, "customerId": customer.pk, "customerCreated": customer_created}
        return Response(
            OrderRecordedSerializer(payload).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class OrderRefundView(GenericAPIView):
    serializer_class = RefundInputSerializer
    permission_classes = [HasPerms("customers.refund_order")]

    def get_queryset(self):
        return Order.objects.all()

    @extend_schema(
        summary="Refund an order, fully or in part",
        description=(
            "Refunds at most what was paid and not yet refunded (amount - discount - refunded); "
            "the customer's totals are reversed. Send an Idempotency-Key so that a retry "
            "refunds nothing more. Needs customers.refund_order."
        ),
        request=RefundInputSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            200: OrderRefundedSerializer,
            400: OpenApiResponse(description="The refund is larger than what is left."),
            409: OpenApiResponse(description="The Idempotency-Key was used for another refund."),
        },
        tags=["orders"],
    )
    def post(self, request, pk):
        order = get_object_or_404(Order, pk=pk)
        body = RefundInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with field_of(IdempotencyKeyReused, IDEMPOTENCY_HEADER):
            order = orders.refund_order(
                order=order,
                amount=body.validated_data["amount"],
                reason=body.validated_data["reason"],
                actor=request.user,
                idempotency_key=idempotency_key(request),
            )
        return Response(OrderRefundedSerializer(order).data)


class CustomerOrderListView(GenericAPIView):
    pagination_class = PagePagination
    serializer_class = OrderSerializer
    permission_classes = [HasPerms("customers.view_order")]

    def get_queryset(self):
        return Customer.objects.all()

    @extend_schema(
        summary="A customer's orders with their items, newest first",
        responses=OrderSerializer(many=True),
        tags=["orders"],
    )
    def get(self, request, pk):
        customer = get_object_or_404(Customer.objects.only("pk"), pk=pk)
        page = self.paginate_queryset(customer_orders(customer_id=customer.pk))
        if page:
            register_read(customer_ids=[customer.pk], count=len(page))
        return self.get_paginated_response(OrderSerializer(page, many=True).data)
