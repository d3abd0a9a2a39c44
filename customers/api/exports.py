"""Customer export endpoints (spec 2.8.1) and the PDF of one customer's detail (spec 2.1.4).

Thin views: validate the body, call customers.exports.service, shape the record.
"""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from crm.api.inputs import InputSerializer
from crm.api.pagination import PagePagination
from crm.file_vault import file_response
from crm.permissions import HasPerms
from customers.exports.fields import DEFAULT_FIELDS, FIELDS
from customers.exports.service import export_customer_pdf, export_start, visible_exports
from customers.models import Customer, ExportFormat, ExportRecord, JobStatus
from customers.services.files import download_export, is_expired


class ExportInputSerializer(InputSerializer):
    format = serializers.ChoiceField(choices=ExportFormat.choices)
    fields = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        default=lambda: list(DEFAULT_FIELDS),
        help_text=_("Field names, in column order: %s.") % ", ".join(FIELDS),
    )
    filters = serializers.DictField(
        required=False,
        default=dict,
        help_text=_("The customer list's query parameters; empty: every live customer."),
    )
    unmasked = serializers.BooleanField(required=False, default=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class ExportRecordSerializer(serializers.Serializer):
    id = serializers.CharField()
    format = serializers.CharField()
    fields = serializers.ListField(child=serializers.CharField())
    filters = serializers.DictField()
    masked = serializers.BooleanField()
    reason = serializers.CharField()
    status = serializers.CharField()
    progress = serializers.IntegerField()
    rowCount = serializers.IntegerField(source="row_count")
    error = serializers.CharField()
    actor = serializers.CharField(source="actor.username", default=None, allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    customerId = serializers.CharField(source="customer_id", allow_null=True)
    statusUrl = serializers.SerializerMethodField()
    downloadUrl = serializers.SerializerMethodField()

    def get_statusUrl(self, record) -> str:
        return reverse("api:export-detail", kwargs={"pk": record.pk})

    def get_downloadUrl(self, record) -> str | None:
        if record.status != JobStatus.DONE or not record.file or is_expired(record.expires_at):
            return None
        return reverse("api:export-download", kwargs={"pk": record.pk})


class CustomerExportView(GenericAPIView):
    serializer_class = ExportRecordSerializer
    permission_classes = [HasPerms("customers.export_customer")]

    @extend_schema(
        summary="Export customers as CSV, XLSX or PDF",
        description=(
            "fields: the columns, in order (default: a common set); filters: the customer "
            "list's query parameters (an empty object exports every live customer). Phone "
            "and e-mail are masked unless unmasked is true, which needs "
            "customers.reveal_customer_pii and a reason. Up to EXPORT_SYNC_LIMIT rows the file "
            "is written at once (201, status done, downloadUrl); larger exports run in the "
            "background (202, status pending: poll statusUrl). A PDF holds at most 5,000 rows. "
            "Needs customers.export_customer."
        ),
        request=ExportInputSerializer,
        responses={
            201: ExportRecordSerializer,
            202: ExportRecordSerializer,
            400: OpenApiResponse(description="Unknown field or filter, bad value, no reason."),
            403: OpenApiResponse(description="Not allowed to export, or to export unmasked."),
        },
        tags=["exports"],
    )
    def post(self, request):
        body = ExportInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        record = export_start(
            actor=request.user,
            format=data["format"],
            fields=data["fields"],
            filters=data["filters"],
            unmasked=data["unmasked"],
            reason=data["reason"],
        )
        pending = record.status in {JobStatus.PENDING, JobStatus.RUNNING}
        return Response(
            ExportRecordSerializer(record).data,
            status=status.HTTP_202_ACCEPTED if pending else status.HTTP_201_CREATED,
        )


class ExportListView(GenericAPIView):
    serializer_class = ExportRecordSerializer
    pagination_class = PagePagination
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        return visible_exports(self.request.user).order_by("-created_at", "-id")

    @extend_schema(
        summary="Export history, newest first",
        description="The caller's exports; every export with customers.view_exportrecord.",
        responses=ExportRecordSerializer(many=True),
        tags=["exports"],
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ExportRecordSerializer(page, many=True).data)


class ExportDetailView(GenericAPIView):
    serializer_class = ExportRecordSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        return visible_exports(self.request.user)

    @extend_schema(
        summary="One export: status and progress",
        responses=ExportRecordSerializer,
        tags=["exports"],
    )
    def get(self, request, pk):
        record = get_object_or_404(self.get_queryset(), pk=pk)
        return Response(ExportRecordSerializer(record).data)


class ExportDownloadView(GenericAPIView):
    serializer_class = ExportRecordSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        # Every record: download_export decides who gets it (403) and when there is no file
        # (404), by the download permission, not by who may list the exports.
        return ExportRecord.objects.all()

    @extend_schema(
        summary="Download an export's file",
        description="To its owner, or to holders of customers.download_any_file (an unmasked "
        "file also needs customers.reveal_customer_pii). Every download is audited. The file "
        "is kept EXPORT_FILE_RETENTION_DAYS (default 7): after that, 410.",
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): (
                OpenApiTypes.BINARY
            ),
            (200, "application/pdf"): OpenApiTypes.BINARY,
            403: OpenApiResponse(
                description="Another staff member's file, to one who may list every export."
            ),
            404: OpenApiResponse(
                description="No such export (or another's, to one who may not list it), or "
                "its file is not ready or missing."
            ),
            410: OpenApiResponse(description="The file expired and was deleted."),
        },
        tags=["exports"],
    )
    def get(self, request, pk):
        record = get_object_or_404(self.get_queryset(), pk=pk)
        return file_response(download_export(request.user, record))


class CustomerPdfQuerySerializer(InputSerializer):
    unmasked = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_("Unmasked personal data: needs customers.reveal_customer_pii and a reason."),
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class CustomerPdfView(GenericAPIView):
    serializer_class = ExportRecordSerializer
    permission_classes = [HasPerms("customers.view_customer")]

    def get_queryset(self):
        return Customer.objects.all()

    @extend_schema(
        summary="One customer's detail as a PDF",
        description=(
            "Profile, stats, tags, addresses, recent orders and communications, by the rules of "
            "any export: phone, e-mail, the birthday's year, recipients and street addresses "
            "are masked unless unmasked=true, which needs customers.reveal_customer_pii and a "
            "reason (the reveal is audited). The PDF joins the export history (its id in the "
            "X-Export-Id header) and is audited. Addresses, orders and communications only "
            "for readers with their view permission. Needs customers.view_customer."
        ),
        parameters=[CustomerPdfQuerySerializer],
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            400: OpenApiResponse(description="Unmasked without a reason."),
            403: OpenApiResponse(description="Unmasked without the reveal permission."),
            404: OpenApiResponse(description="No customer with this id."),
        },
        tags=["exports"],
    )
    def get(self, request, pk):
        query = CustomerPdfQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        record, content = export_customer_pdf(
            actor=request.user,
            customer_id=pk,
            unmasked=query.validated_data["unmasked"],
            reason=query.validated_data["reason"],
        )
        response = HttpResponse(content, content_type="application/pdf")
        response["Content-Disposition"] = content_disposition_header(
            True, f"{record.customer.customer_no}.pdf"
        )
        response["X-Export-Id"] = str(record.pk)
        return response
