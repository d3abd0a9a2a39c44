"""Segments (spec 2.3.2, 4.3): list and create them, read, change and delete one, preview an
unsaved condition, page through a segment's members, refresh it, analyse it, and list the fields
a condition may name. Thin views over segments.services and segments.selectors."""

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from crm.access_log import register_read
from crm.api.inputs import BIGINT_MAX, InputSerializer
from crm.api.pagination import PagePagination
from crm.errors import NotFound
from crm.permissions import HasPerms, permissions_by_method
from customers.conditions.openapi import ConditionJSONField
from customers.pii_access import can_reveal, record_reveal, shown_phone
from segments.models import Segment
from segments.selectors import condition_field_catalogue, segment_analysis, segment_members
from segments.services import segments as services

VIEW = "segments.view_segment"
REPORT_TYPES = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}
CONDITION_HELP = (
    "The condition tree of spec 5.3 ({logicalOperator, conditions: [{field, operator, value} "
    "or nested groups]}) or the short form of spec 4.3 ({field: {operator: value}}, all of "
    "them). GET /customers/segments/fields lists the fields and their operators."
)


class SegmentInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    condition = ConditionJSONField(help_text=CONDITION_HELP)
    scopeId = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        help_text="Only customers of this segment; leave out or null for all customers.",
    )


class SegmentSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    condition = ConditionJSONField()
    scopeId = serializers.CharField(source="scope_id", allow_null=True)
    count = serializers.IntegerField(
        source="customer_count", help_text="Customers at the last count or refresh."
    )
    refreshedAt = serializers.DateTimeField(source="refreshed_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")


class SegmentCreatedSerializer(serializers.Serializer):
    id = serializers.CharField()
    count = serializers.IntegerField(source="customer_count")


class MemberSerializer(serializers.Serializer):
    """A customer as segment lists show one; the phone masked unless the user may reveal it."""

    id = serializers.CharField()
    customerNo = serializers.CharField(source="customer_no")
    name = serializers.CharField()
    phone = serializers.SerializerMethodField()
    level = serializers.CharField()
    totalSpent = serializers.DecimalField(source="total_spent", max_digits=14, decimal_places=2)
    orderCount = serializers.IntegerField(source="order_count")
    lastOrderDate = serializers.DateTimeField(source="last_order_date", allow_null=True)

    def get_phone(self, customer) -> str | None:
        return shown_phone(customer.phone, reveal=self.context.get("reveal", False))


class PreviewInputSerializer(InputSerializer):
    condition = ConditionJSONField(help_text=CONDITION_HELP)
    scopeId = serializers.IntegerField(min_value=1, required=False, allow_null=True)


class PreviewSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    sample = MemberSerializer(many=True, help_text="The newest of the matching customers.")


class RefreshedSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    added = serializers.IntegerField()
    removed = serializers.IntegerField()


def _members_shown(request, customers, context: str) -> dict:
    """The serializer context for member rows, logging the read (crm.access_log) and auditing
    the reveal when they are unmasked."""
    register_read(customer_ids=[customer.pk for customer in customers])
    reveal = can_reveal(request.user)
    if reveal:
        record_reveal(actor=request.user, customers=customers, context=context)
    return {"reveal": reveal}


def _scope(scope_id):
    if scope_id is None:
        return None
    scope = Segment.objects.filter(pk=scope_id).first()
    if scope is None:
        message = _("No segment with this id.")
        raise NotFound(message, fields={"scopeId": [str(message)]})
    return scope


class SegmentListView(GenericAPIView):
    serializer_class = SegmentSerializer

    def get_permissions(self):
        return permissions_by_method(
            self, {"GET": [VIEW], "POST": ["segments.add_segment", "customers.view_customer"]}
        )

    @extend_schema(
        summary="List segments with their counts",
        responses=inline_serializer("SegmentList", {"segments": SegmentSerializer(many=True)}),
        operation_id="customers_segments_list",
        tags=["segments"],
    )
    def get(self, request):
        segments = Segment.objects.order_by("name")
        return Response({"segments": SegmentSerializer(segments, many=True).data})

    @extend_schema(
        summary="Create a segment",
        description="Returns its id and how many customers it holds now (spec 4.3).",
        request=SegmentInputSerializer,
        responses={
            201: SegmentCreatedSerializer,
            404: OpenApiResponse(description="No segment with the scopeId given."),
        },
        tags=["segments"],
    )
    def post(self, request):
        body = SegmentInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        segment = services.segment_create(
            actor=request.user,
            name=data["name"],
            description=data.get("description", ""),
            condition=data["condition"],
            scope=_scope(data.get("scopeId")),
        )
        return Response(SegmentCreatedSerializer(segment).data, status=status.HTTP_201_CREATED)


class SegmentDetailView(GenericAPIView):
    serializer_class = SegmentSerializer
    queryset = Segment.objects.all()

    def get_permissions(self):
        change = ["segments.change_segment", "customers.view_customer"]
        return permissions_by_method(
            self,
            {
                "GET": [VIEW],
                "PUT": change,
                "PATCH": change,
                "DELETE": ["segments.delete_segment"],
            },
        )

    @extend_schema(summary="A segment", tags=["segments"])
    def get(self, request, pk):
        return Response(SegmentSerializer(self.get_object()).data)

    @extend_schema(summary="Replace a segment", request=SegmentInputSerializer, tags=["segments"])
    def put(self, request, pk):
        return self._update(request, partial=False)

    @extend_schema(
        summary="Change some of a segment's fields",
        request=SegmentInputSerializer,
        tags=["segments"],
    )
    def patch(self, request, pk):
        return self._update(request, partial=True)

    @extend_schema(
        summary="Delete a segment",
        responses={204: OpenApiResponse(description="Deleted.")},
        tags=["segments"],
    )
    def delete(self, request, pk):
        services.segment_delete(segment=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request, *, partial):
        segment = self.get_object()
        body = SegmentInputSerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        changes = {key: data[key] for key in ("name", "description", "condition") if key in data}
        if "scopeId" in data or not partial:
            changes["scope"] = _scope(data.get("scopeId"))
        segment = services.segment_update(segment=segment, actor=request.user, changes=changes)
        return Response(SegmentSerializer(segment).data)


class SegmentPreviewView(GenericAPIView):
    permission_classes = [HasPerms(VIEW, "customers.view_customer")]
    serializer_class = PreviewInputSerializer

    @extend_schema(
        summary="Count and sample the customers of an unsaved condition",
        request=PreviewInputSerializer,
        responses={
            200: PreviewSerializer,
            404: OpenApiResponse(description="No segment with the scopeId given."),
        },
        tags=["segments"],
    )
    def post(self, request):
        body = PreviewInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        preview = services.segment_preview(
            condition=data["condition"], scope=_scope(data.get("scopeId"))
        )
        context = _members_shown(request, preview.sample, "segment preview")
        return Response(PreviewSerializer(preview, context=context).data)


class SegmentMembersView(GenericAPIView):
    permission_classes = [HasPerms(VIEW, "customers.view_customer")]
    pagination_class = PagePagination
    serializer_class = MemberSerializer

    @extend_schema(
        summary="A segment's customers as of its last refresh, newest first",
        responses=MemberSerializer(many=True),
        tags=["segments"],
    )
    def get(self, request, pk):
        segment = get_object_or_404(Segment, pk=pk)
        page = self.paginate_queryset(segment_members(segment))
        context = _members_shown(request, page, "segment members")
        return self.get_paginated_response(MemberSerializer(page, many=True, context=context).data)


class SegmentRefreshView(GenericAPIView):
    permission_classes = [HasPerms("segments.refresh_segment")]
    serializer_class = RefreshedSerializer

    @extend_schema(
        summary="Refresh a segment's members now, with a snapshot",
        request=None,
        responses=RefreshedSerializer,
        tags=["segments"],
    )
    def post(self, request, pk):
        segment = get_object_or_404(Segment, pk=pk)
        return Response(RefreshedSerializer(services.segment_refresh(segment_id=segment.pk)).data)


class SegmentAnalysisView(GenericAPIView):
    permission_classes = [HasPerms(VIEW)]
    serializer_class = serializers.Serializer

    @extend_schema(
        summary="A segment's portrait, trend and comparison",
        description=(
            "The portrait of the last refresh (tier, gender and age mixes, spend and frequency, "
            "top dish categories, channels), the trend across snapshots, and with compareWith "
            "(another segment's id, or `all`) each figure side by side with the difference."
        ),
        parameters=[
            OpenApiParameter(
                "compareWith", str, description="A segment id, or `all` for all customers."
            )
        ],
        responses={200: OpenApiResponse(description="The analysis.")},
        tags=["segments"],
    )
    def get(self, request, pk):
        segment = get_object_or_404(Segment, pk=pk)
        compare_with = request.query_params.get("compareWith") or None
        if compare_with not in (None, "all"):
            if not compare_with.isdigit() or not 0 < int(compare_with) <= BIGINT_MAX:
                message = _("Give a segment id or all.")
                raise serializers.ValidationError({"compareWith": [message]})
            compare_with = get_object_or_404(Segment, pk=int(compare_with))
        return Response(segment_analysis(segment, compare_with=compare_with))


class SegmentReportView(GenericAPIView):
    permission_classes = [HasPerms(VIEW)]
    serializer_class = serializers.Serializer

    @extend_schema(
        summary="A segment's latest nightly report",
        description="The report written by the last nightly refresh, as PDF or HTML.",
        parameters=[
            # Not "format": DRF reads that parameter to choose its renderer.
            OpenApiParameter("type", str, enum=["pdf", "html"], description="Default pdf.")
        ],
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            (200, "text/html"): OpenApiTypes.STR,
        },
        tags=["segments"],
    )
    def get(self, request, pk):
        segment = get_object_or_404(Segment, pk=pk)
        kind = request.query_params.get("type", "pdf")
        if kind not in REPORT_TYPES:
            raise serializers.ValidationError({"type": [_("Choose pdf or html.")]})
        snapshot = segment.snapshots.exclude(report_pdf="").order_by("-taken_at", "-id").first()
        if snapshot is None:
            raise NotFound(_("No report yet: reports are written by the nightly refresh."))
        file = snapshot.report_pdf if kind == "pdf" else snapshot.report_html
        return FileResponse(
            file.open("rb"),
            content_type=REPORT_TYPES[kind],
            as_attachment=kind == "pdf",
            filename=file.name.rsplit("/", 1)[-1],
        )


class ConditionFieldsView(GenericAPIView):
    permission_classes = [HasPerms(VIEW)]
    serializer_class = serializers.Serializer

    @extend_schema(
        summary="The fields a segment condition may name, with their operators",
        responses={200: OpenApiResponse(description="{fields: [{name, label, kind, ...}]}")},
        tags=["segments"],
    )
    def get(self, request):
        return Response({"fields": condition_field_catalogue()})
