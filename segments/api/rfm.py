"""RFM runs (spec 2.3.1): start one, read its tiers and classes, page through its customers.
Thin views over segments.services.rfm and segments.selectors."""

import django_filters
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.response import Response

from crm.access_log import register_read
from crm.api.inputs import InputSerializer
from crm.api.pagination import PagePagination
from crm.permissions import HasPerms, permissions_by_method
from segments.models import MAX_TIERS, MAX_WEIGHT, MIN_TIERS, RfmClass, RfmRun, RfmScore
from segments.selectors import rfm_run_customers, rfm_run_report
from segments.services.rfm import Weights, rfm_run_start

VIEW = "segments.view_rfmrun"
ADD = "segments.add_rfmrun"


def weight_field():
    return serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=MAX_WEIGHT, default=1
    )


class WeightsSerializer(InputSerializer):
    r = weight_field()
    f = weight_field()
    m = weight_field()


class RfmRunInputSerializer(InputSerializer):
    start = serializers.DateField(help_text="First day of the range (required).")
    end = serializers.DateField(help_text="Last day of the range, included (required).")
    tiers = serializers.IntegerField(min_value=MIN_TIERS, max_value=MAX_TIERS, default=5)
    weights = WeightsSerializer(required=False)


class RfmTierSerializer(serializers.Serializer):
    tier = serializers.IntegerField(help_text="1 is the best tier.")
    count = serializers.IntegerField()
    share = serializers.FloatField(help_text="Share of the scored customers, 0 to 1.")
    avgRecencyDays = serializers.FloatField(allow_null=True)
    avgFrequency = serializers.FloatField(allow_null=True)
    avgMonetary = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    spendShare = serializers.FloatField(help_text="Share of the range's spend, 0 to 1.")
    description = serializers.CharField(help_text="What sets the tier apart (分级特征).")


# "class" is a Python keyword, so this serializer is built with type() to have a field named so.
RfmClassCountSerializer = type(
    "RfmClassCountSerializer",
    (serializers.Serializer,),
    {
        "class": serializers.ChoiceField(choices=RfmClass.choices),
        "label": serializers.CharField(),
        "count": serializers.IntegerField(),
    },
)


class RfmRunSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=RfmRun.Status.choices)
    progress = serializers.IntegerField(help_text="Percent done.")
    start = serializers.DateField()
    end = serializers.DateField()
    tierCount = serializers.IntegerField(source="tiers")
    weights = serializers.SerializerMethodField()
    scored = serializers.IntegerField()
    unscored = serializers.IntegerField(help_text="Customers without orders in the range.")
    tiers = serializers.SerializerMethodField()
    classes = serializers.SerializerMethodField()
    error = serializers.CharField()
    createdAt = serializers.DateTimeField(source="created_at")
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)

    def get_weights(self, run) -> WeightsSerializer:
        return {"r": run.weight_r, "f": run.weight_f, "m": run.weight_m}

    def get_tiers(self, run) -> RfmTierSerializer(many=True):
        return RfmTierSerializer(rfm_run_report(run)["tiers"], many=True).data

    def get_classes(self, run) -> RfmClassCountSerializer(many=True):
        return RfmClassCountSerializer(rfm_run_report(run)["classes"], many=True).data


class RfmRunStartedSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=RfmRun.Status.choices)
    progress = serializers.IntegerField()


class RfmRunListView(GenericAPIView):
    pagination_class = PagePagination
    serializer_class = RfmRunSerializer
    queryset = RfmRun.objects.order_by("-created_at", "-id")

    def get_permissions(self):
        return permissions_by_method(self, {"GET": [VIEW], "POST": [ADD]})

    @extend_schema(
        summary="List RFM runs, newest first",
        responses=RfmRunSerializer(many=True),
        tags=["segments"],
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(RfmRunSerializer(page, many=True).data)

    @extend_schema(
        summary="Start an RFM run",
        description=(
            "Scores every customer who ordered in the range (spec 2.3.1). A range with few "
            "orders is computed within the request (status done); a larger one runs in the "
            "background: poll GET /segments/rfm-runs/{id} for status and progress."
        ),
        request=RfmRunInputSerializer,
        responses={201: RfmRunStartedSerializer},
        tags=["segments"],
    )
    def post(self, request):
        body = RfmRunInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        run = rfm_run_start(
            actor=request.user,
            start=data["start"],
            end=data["end"],
            tiers=data["tiers"],
            weights=Weights(**data.get("weights", {})),
        )
        return Response(RfmRunStartedSerializer(run).data, status=status.HTTP_201_CREATED)


class RfmRunDetailView(GenericAPIView):
    permission_classes = [HasPerms(VIEW)]
    serializer_class = RfmRunSerializer
    queryset = RfmRun.objects.all()

    @extend_schema(summary="An RFM run: its tiers and classes", tags=["segments"])
    def get(self, request, pk):
        return Response(RfmRunSerializer(self.get_object()).data)


class RfmScoreSerializer(serializers.Serializer):
    customerId = serializers.CharField(source="customer_id")
    customerNo = serializers.CharField(source="customer_no")
    name = serializers.CharField(source="customer_name")
    recencyDays = serializers.IntegerField(source="recency_days")
    frequency = serializers.IntegerField()
    monetary = serializers.DecimalField(max_digits=14, decimal_places=2)
    rScore = serializers.IntegerField(source="r_score")
    fScore = serializers.IntegerField(source="f_score")
    mScore = serializers.IntegerField(source="m_score")
    score = serializers.DecimalField(max_digits=5, decimal_places=3)
    tier = serializers.IntegerField()
    rfmClass = serializers.ChoiceField(choices=RfmClass.choices, source="rfm_class")


class RfmScoreFilter(django_filters.FilterSet):
    tier = django_filters.NumberFilter(label=_("Tier"), min_value=1, max_value=MAX_TIERS)
    rfmClass = django_filters.ChoiceFilter(
        field_name="rfm_class", choices=RfmClass.choices, label=_("RFM class")
    )

    class Meta:
        model = RfmScore
        fields = []


class RfmRunCustomersView(ListAPIView):
    permission_classes = [HasPerms(VIEW, "customers.view_customer")]
    serializer_class = RfmScoreSerializer
    pagination_class = PagePagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = RfmScoreFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no run id
            return RfmScore.objects.none()
        return rfm_run_customers(run=get_object_or_404(RfmRun, pk=self.kwargs["pk"]))

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        register_read(customer_ids=[score.customer_id for score in page or ()])
        return page

    @extend_schema(summary="An RFM run's customers, best first", tags=["segments"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
