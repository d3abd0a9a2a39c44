"""Points (spec 2.2.5, 4.2): staff adjustments, redemption against an order, and a customer's
ledger. Thin views over membership.services.points; adjustments and redemptions are idempotent
by the Idempotency-Key header."""

from contextlib import contextmanager

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from crm.api.inputs import (
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_PARAMETER,
    InputSerializer,
    field_of,
    idempotency_key,
)
from crm.api.pagination import PagePagination
from crm.errors import NotFound
from crm.idempotency import IdempotencyKeyReused
from crm.permissions import HasPerms
from customers.models import Customer, Order
from membership.api.inputs import (
    referenced,
    valid_body,
)
from membership.models import PointsEntry
from membership.services import points, redemption

# A bound on one request's points, far above any real adjustment, so that a typo cannot carry a
# balance past what its integer column holds.
MAX_POINTS = 100_000_000


class AdjustInputSerializer(InputSerializer):
    customerId = serializers.IntegerField(min_value=1)
    adjustment = serializers.IntegerField(
        min_value=-MAX_POINTS,
        max_value=MAX_POINTS,
        help_text="Points to add, or to take when negative; not zero.",
    )
    reason = serializers.CharField(max_length=200)


class AdjustedSerializer(serializers.Serializer):
    currentPoints = serializers.IntegerField(help_text="The balance after the adjustment.")
    adjustment = serializers.IntegerField()


class RedeemInputSerializer(InputSerializer):
    customerId = serializers.IntegerField(min_value=1)
    points = serializers.IntegerField(max_value=MAX_POINTS)
    orderId = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    orderSource = serializers.CharField(
        max_length=32,
        required=False,
        default="",
        allow_blank=True,
        help_text="The ordering system of an order not recorded yet (the order's source).",
    )
    orderExternalId = serializers.CharField(
        max_length=64,
        required=False,
        default="",
        allow_blank=True,
        help_text=(
            "The order's id in that system: the redemption is held against it, and the order "
            "links it when recorded (its pointsUsed is then this redemption)."
        ),
    )
    orderAmount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
        help_text="What the order costs, when it is not recorded yet (no orderId).",
    )


class RedeemedSerializer(serializers.Serializer):
    redeemedPoints = serializers.IntegerField()
    deduction = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="Yuan off the order."
    )
    currentPoints = serializers.IntegerField(help_text="The balance after the redemption.")


class ReleaseInputSerializer(InputSerializer):
    orderSource = serializers.CharField(max_length=32, help_text="The order's system.")
    orderExternalId = serializers.CharField(max_length=64, help_text="The order's id there.")


class ReleasedSerializer(serializers.Serializer):
    releasedPoints = serializers.IntegerField(
        help_text="The points given back; 0 when nothing was held (a repeat)."
    )


class PointsEntrySerializer(serializers.Serializer):
    id = serializers.CharField()
    delta = serializers.IntegerField()
    kind = serializers.CharField(help_text="earn, redeem, adjust, expire, refund or release.")
    reason = serializers.CharField()
    orderId = serializers.CharField(source="order_id", allow_null=True)
    balanceAfter = serializers.IntegerField(source="balance_after")
    expiresOn = serializers.DateField(
        source="expires_on", allow_null=True, help_text="The last day the points are valid."
    )
    createdAt = serializers.DateTimeField(source="created_at")
    actor = serializers.CharField(source="actor.username", default=None, allow_null=True)


@extend_schema_field(PagePagination().get_paginated_response_schema({})["properties"]["pagination"])
class PaginationField(serializers.DictField):
    pass


class CustomerPointsSerializer(serializers.Serializer):
    balance = serializers.IntegerField()
    expiringSoon = serializers.IntegerField(
        source="expiring_soon", help_text="Points of the balance that expire by expiringBy."
    )
    expiringBy = serializers.DateField(source="expiring_by")
    items = PointsEntrySerializer(many=True, help_text="The ledger, newest first.")
    pagination = PaginationField()


@contextmanager
def _named_errors():
    """An unknown customer names customerId; a reused key, the Idempotency-Key header."""
    with (
        field_of(NotFound, "customerId"),
        field_of(IdempotencyKeyReused, IDEMPOTENCY_HEADER),
    ):
        yield


class PointsAdjustView(GenericAPIView):
    serializer_class = AdjustInputSerializer
    permission_classes = [HasPerms("membership.adjust_points")]

    @extend_schema(
        summary="Adjust a customer's points",
        description=(
            "Spec 4.2. A deduction beyond the balance is refused (400, error.fields.adjustment). "
            "Audited. Needs membership.adjust_points."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=AdjustInputSerializer,
        responses={
            200: AdjustedSerializer,
            400: OpenApiResponse(description="Not enough points, or a field is invalid."),
            404: OpenApiResponse(description="No such customer."),
            409: OpenApiResponse(description="The Idempotency-Key was used for another request."),
        },
        tags=["points"],
    )
    def post(self, request):
        data = valid_body(request, AdjustInputSerializer)
        key = idempotency_key(request)
        with _named_errors():
            change = points.adjust_points(
                customer_id=data["customerId"],
                adjustment=data["adjustment"],
                reason=data["reason"],
                actor=request.user,
                idempotency_key=key,
            )
        payload = {"currentPoints": change.entry.balance_after, "adjustment": change.entry.delta}
        return Response(AdjustedSerializer(payload).data)


class PointsRedeemView(GenericAPIView):
    serializer_class = RedeemInputSerializer
    permission_classes = [HasPerms("membership.redeem_points")]

    @extend_schema(
        summary="Pay part of an order with points",
        description=(
            "The points are worth points / (points for one yuan) yuan, at most the policy's "
            "share of the order's paid amount (the recorded order's, else orderAmount), "
            "counting every redemption on the order. For an order not recorded yet, give "
            "orderSource, orderExternalId and orderAmount: the points are held against that "
            "order, which links them when it is recorded, so that its refund returns them. "
            "Needs membership.redeem_points."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=RedeemInputSerializer,
        responses={
            200: RedeemedSerializer,
            400: OpenApiResponse(description="Too many points for the balance or the order."),
            404: OpenApiResponse(description="No such customer or order."),
            409: OpenApiResponse(description="The Idempotency-Key was used for another request."),
        },
        tags=["points"],
    )
    def post(self, request):
        data = valid_body(request, RedeemInputSerializer)
        key = idempotency_key(request)
        order = referenced(
            Order.objects.all(),
            data.get("orderId"),
            field="orderId",
            message=_("No order with this id."),
        )
        with _named_errors():
            redeemed = redemption.redeem_points(
                customer_id=data["customerId"],
                points=data["points"],
                order_amount=data.get("orderAmount"),
                order=order,
                order_ref=(
                    redemption.OrderRef(data["orderSource"], data["orderExternalId"])
                    if data["orderExternalId"]
                    else None
                ),
                actor=request.user,
                idempotency_key=key,
            )
        entry = redeemed.change.entry
        payload = {
            "redeemedPoints": -entry.delta,
            "deduction": redeemed.deduction,
            "currentPoints": entry.balance_after,
        }
        return Response(RedeemedSerializer(payload).data)


class PointsReleaseView(GenericAPIView):
    serializer_class = ReleaseInputSerializer
    permission_classes = [HasPerms("membership.redeem_points")]

    @extend_schema(
        summary="Give back the points held for an order that will not be recorded",
        description=(
            "For an order cancelled before the ordering system recorded it: the points "
            "redeemed against orderSource + orderExternalId return to the customer, and the "
            "order, if recorded later, finds no hold. A repeat releases nothing (0). The "
            "nightly run releases holds older than POINTS_HOLD_HOURS. Audited. Needs "
            "membership.redeem_points."
        ),
        request=ReleaseInputSerializer,
        responses={200: ReleasedSerializer},
        tags=["points"],
    )
    def post(self, request):
        data = valid_body(request, ReleaseInputSerializer)
        ref = redemption.OrderRef(data["orderSource"], data["orderExternalId"])
        released = redemption.release_held_points(ref=ref, actor=request.user)
        return Response(ReleasedSerializer({"releasedPoints": released}).data)


class CustomerPointsView(GenericAPIView):
    serializer_class = CustomerPointsSerializer
    pagination_class = PagePagination
    permission_classes = [HasPerms("membership.view_pointsentry")]
    queryset = Customer.objects.all()

    @extend_schema(
        summary="A customer's points: balance, points expiring soon, and the ledger",
        description="Needs membership.view_pointsentry.",
        responses={
            200: CustomerPointsSerializer,
            404: OpenApiResponse(description="No such customer."),
        },
        tags=["points"],
    )
    def get(self, request, pk):
        customer = get_object_or_404(Customer.objects.only("pk", "points"), pk=pk)
        summary = points.points_summary(customer)
        ledger = (
            PointsEntry.objects.filter(customer_id=customer.pk)
            .select_related("actor")
            .order_by("-created_at", "-id")
        )
        page = self.paginate_queryset(ledger)
        payload = {
            "balance": summary.balance,
            "expiring_soon": summary.expiring_soon,
            "expiring_by": summary.expiring_by,
            "items": page,
            "pagination": self.paginator.pagination_data(),
        }
        return Response(CustomerPointsSerializer(payload).data)
