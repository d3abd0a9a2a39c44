"""Customer export endpoints (spec 2.8.1) and the PDF of one customer's detail (spec 2.1.4).

Thin views: validate the body, call customers.exports.service, shape the record.
"""

from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from crm.api.inputs import InputSerializer
from crm.api.pagination import PagePagination
from crm.audit import record_event
from crm.permissions import HasPerms
from customers.exports.customer_pdf import customer_pdf
from customers.exports.fields import DEFAULT_FIELDS, FIELDS
from customers.exports.service import export_start, may_download, visible_exports
from customers.exports.writers import CONTENT_TYPES
from customers.models import Customer, ExportFormat, JobStatus
from customers.pii_access import RevealContext, can_reveal, record_reveal
from customers.selectors import customer_detail


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
    statusUrl = serializers.SerializerMethodField()
    downloadUrl = serializers.SerializerMethodField()

    def get_statusUrl(self, record) -> str:
        return reverse("api:export-detail", kwargs={"pk": record.pk})

    def get_downloadUrl(self, record) -> str | None:
        if record.status != JobStatus.DONE or not record.file:
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
        return visible_exports(self.request.user)

    @extend_schema(
        summary="Download an export's file",
        description="To its owner, or to holders of customers.view_exportrecord (an unmasked "
        "file also needs customers.reveal_customer_pii).",
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): (
                OpenApiTypes.BINARY
            ),
            (200, "application/pdf"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="No such export, or its file is not ready."),
        },
        tags=["exports"],
    )
    def get(self, request, pk):
        record = get_object_or_404(self.get_queryset(), pk=pk)
        if not may_download(request.user, record):
            raise PermissionDenied(_("You may not download this export."))
        if record.status != JobStatus.DONE or not record.file:
            raise NotFound(_("This export has no file yet; poll its status."))
        response = FileResponse(
            record.file.open("rb"),
            as_attachment=True,
            filename=record.file.name.rsplit("/", 1)[-1],
            content_type=CONTENT_TYPES[record.format],
        )
        return response


class CustomerPdfView(GenericAPIView):
    serializer_class = ExportRecordSerializer
    permission_classes = [HasPerms("customers.view_customer")]

    def get_queryset(self):
        return Customer.objects.all()

    @extend_schema(
        summary="One customer's detail as a PDF",
        description=(
            "Profile, stats, tags, addresses, recent orders and communications. Phone, e-mail "
            "and street addresses are masked unless the caller may reveal them (then the "
            "reveal is audited); the export is audited. Needs customers.view_customer."
        ),
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
        tags=["exports"],
    )
    def get(self, request, pk):
        try:
            customer = customer_detail(pk=pk)
        except Customer.DoesNotExist:
            raise NotFound(_("No customer with this id.")) from None
        user = request.user
        reveal = can_reveal(user)
        if reveal:
            record_reveal(actor=user, customers=[customer], context=RevealContext.API_PDF)
        record_event(
            action="export",
            actor=user,
            obj=customer,
            summary={"format": "pdf", "context": "customer detail", "masked": not reveal},
        )
        content = customer_pdf(
            customer,
            reveal=reveal,
            show_addresses=user.has_perm("customers.view_address"),
            show_orders=user.has_perm("customers.view_order"),
            show_communications=user.has_perm("customers.view_communication"),
        )
        response = HttpResponse(content, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{customer.customer_no}.pdf"'
        return response
