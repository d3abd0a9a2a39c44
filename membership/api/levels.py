"""Tiers and their benefits (spec 2.2.1, 4.2): the public list of tiers, and their editing by
managers through membership.services.levels and membership.services.benefits."""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from crm.api.inputs import InputSerializer
from crm.api.pagination import PagePagination
from crm.permissions import ModelPermissions
from membership.api.inputs import apply_body
from membership.models import Benefit, BenefitKind, ConditionMatch, MembershipLevel, UsagePeriod
from membership.services import benefits as benefit_services
from membership.services import levels as level_services

MONEY = {"max_digits": 14, "decimal_places": 2}
WRITE_RESPONSES = {
    400: OpenApiResponse(description="A field is missing or invalid; error.fields names it."),
    409: OpenApiResponse(description="The change conflicts with the tier's customers."),
}


def _threshold(source: str, help_text: str, *, money: bool = False) -> serializers.Field:
    """A tier threshold: a spend (money) or a count, null when it is not a condition."""
    field = serializers.DecimalField if money else serializers.IntegerField
    options = MONEY if money else {}
    return field(
        source=source,
        **options,
        min_value=0,
        allow_null=True,
        required=False,
        help_text=help_text,
    )


class UpgradeConditionSerializer(InputSerializer):
    checked_by_model = MembershipLevel

    amount = _threshold("min_spent", "Spend within the window; null: not a condition.", money=True)
    orders = _threshold("min_orders", "Orders within the window; null: not a condition.")
    points = _threshold("min_points", "Current points balance; null: not a condition.")
    match = serializers.ChoiceField(
        source="condition_match",
        choices=ConditionMatch.choices,
        required=False,
        help_text="any: one condition reaches the tier; all: every condition must be met.",
    )
    windowDays = serializers.IntegerField(
        source="window_days",
        min_value=0,
        required=False,
        help_text="Spend and orders count within this many days; 0: all of them.",
    )


class RetentionSerializer(InputSerializer):
    checked_by_model = MembershipLevel

    amount = _threshold(
        "retain_min_spent",
        "Spend within the window that keeps the tier; amount and orders both null: the "
        "upgrade conditions keep it.",
        money=True,
    )
    orders = _threshold("retain_min_orders", "Orders within the window that keep the tier.")
    graceDays = serializers.IntegerField(
        source="grace_days",
        min_value=0,
        required=False,
        help_text="How long the tier is kept after its retention conditions fail.",
    )
    downgradeTo = serializers.SlugRelatedField(
        source="downgrade_to",
        slug_field="code",
        queryset=MembershipLevel.objects.all(),
        allow_null=True,
        required=False,
        error_messages={"does_not_exist": _("No tier with this code.")},
        help_text="The code of the tier a downgrade goes to; null: the best tier whose upgrade "
        "conditions the customer still meets.",
    )


class LevelSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField(source="display_name", help_text="In the request's language.")
    icon = serializers.SerializerMethodField()
    upgradeCondition = UpgradeConditionSerializer(source="*")
    benefits = serializers.SerializerMethodField()
    code = serializers.CharField()
    sortOrder = serializers.IntegerField(
        source="sort_order", help_text="The tier's rank: higher is better, the lowest is the base."
    )
    retention = RetentionSerializer(source="*")

    def get_icon(self, level) -> str | None:
        if not level.icon:
            return None
        return self.context["request"].build_absolute_uri(level.icon.url)

    def get_benefits(self, level) -> list[str]:
        """The descriptions of the tier's benefits in force today, in the request's language."""
        return [benefit.display_description for benefit in level.benefits_now]


class LevelInputSerializer(InputSerializer):
    """POST and PUT bodies (PUT needs code, name and sortOrder; other fields left out keep their
    stored values); PATCH sends only what changes. The icon is uploaded in the admin."""

    checked_by_model = MembershipLevel

    code = serializers.CharField(max_length=16)
    name = serializers.CharField(max_length=50)
    nameEn = serializers.CharField(
        source="name_en", max_length=50, required=False, allow_blank=True
    )
    sortOrder = serializers.IntegerField(source="sort_order", min_value=0)
    upgradeCondition = UpgradeConditionSerializer(source="*", required=False)
    retention = RetentionSerializer(source="*", required=False)


class BenefitSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.ChoiceField(source="kind", choices=BenefitKind.choices)
    value = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        help_text=(
            "Percent off for a discount, yuan off for an amount off, the factor for a points "
            "multiplier (1.2); for the other types, what the item or service is worth in yuan."
        ),
    )
    description = serializers.CharField(
        source="display_description", help_text="In the request's language."
    )
    exclusiveGroup = serializers.CharField(
        source="exclusive_group",
        help_text="Benefits of one group do not stack: the best applies. Empty: stacks.",
    )
    validFrom = serializers.DateField(source="valid_from", allow_null=True)
    validUntil = serializers.DateField(source="valid_until", allow_null=True)
    usageLimit = serializers.IntegerField(
        source="usage_limit",
        allow_null=True,
        help_text="Uses allowed per customer in each usagePeriod; null for no limit.",
    )
    usagePeriod = serializers.ChoiceField(source="usage_period", choices=UsagePeriod.choices)


class LevelBenefitSerializer(BenefitSerializer):
    isActive = serializers.BooleanField(source="is_active")
    sortOrder = serializers.IntegerField(source="sort_order")


class BenefitInputSerializer(InputSerializer):
    checked_by_model = Benefit

    type = serializers.ChoiceField(source="kind", choices=BenefitKind.choices)
    value = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    description = serializers.CharField(max_length=200)
    descriptionEn = serializers.CharField(
        source="description_en", max_length=200, required=False, allow_blank=True
    )
    exclusiveGroup = serializers.CharField(
        source="exclusive_group", max_length=32, required=False, allow_blank=True
    )
    validFrom = serializers.DateField(source="valid_from", required=False, allow_null=True)
    validUntil = serializers.DateField(source="valid_until", required=False, allow_null=True)
    usageLimit = serializers.IntegerField(
        source="usage_limit", min_value=1, max_value=32767, required=False, allow_null=True
    )
    usagePeriod = serializers.ChoiceField(
        source="usage_period", choices=UsagePeriod.choices, required=False
    )
    isActive = serializers.BooleanField(source="is_active", required=False)
    sortOrder = serializers.IntegerField(source="sort_order", min_value=0, required=False)


def listed_levels():
    """Every tier from the lowest to the highest, with its benefits in force today: one query
    for the tiers, one for the benefits."""
    in_force = benefit_services.benefits_in_force()
    return (
        MembershipLevel.objects.select_related("downgrade_to")
        .prefetch_related(Prefetch("benefits", queryset=in_force, to_attr="benefits_now"))
        .order_by("sort_order")
    )


class LevelListView(GenericAPIView):
    serializer_class = LevelSerializer
    permission_classes = [ModelPermissions]
    queryset = MembershipLevel.objects.all()

    @extend_schema(
        summary="Membership tiers, from the lowest to the highest",
        description=(
            "Spec 4.2. Names and benefits in the request's language; benefits are the active "
            "ones in force today. Needs membership.view_membershiplevel."
        ),
        responses=inline_serializer("MembershipLevelList", {"levels": LevelSerializer(many=True)}),
        operation_id="membership_levels_list",
        tags=["membership"],
    )
    def get(self, request):
        levels = LevelSerializer(listed_levels(), many=True, context={"request": request})
        return Response({"levels": levels.data})

    @extend_schema(
        summary="Create a tier",
        description="Needs membership.add_membershiplevel (role manager).",
        request=LevelInputSerializer,
        responses={201: LevelSerializer, **WRITE_RESPONSES},
        tags=["membership"],
    )
    def post(self, request):
        level = _save_level(request, MembershipLevel(), partial=False)
        return Response(level, status=status.HTTP_201_CREATED)


class LevelDetailView(GenericAPIView):
    serializer_class = LevelSerializer
    permission_classes = [ModelPermissions]
    queryset = MembershipLevel.objects.all()

    @extend_schema(summary="A tier", tags=["membership"])
    def get(self, request, pk):
        level = get_object_or_404(listed_levels(), pk=pk)
        return Response(LevelSerializer(level, context={"request": request}).data)

    @extend_schema(
        summary="Replace a tier's settings",
        description=(
            "code, name and sortOrder are required; other fields left out keep their values. "
            "A tier's code cannot change while customers hold it (409). "
            "Needs membership.change_membershiplevel."
        ),
        request=LevelInputSerializer,
        responses={200: LevelSerializer, **WRITE_RESPONSES},
        tags=["membership"],
    )
    def put(self, request, pk):
        level = get_object_or_404(MembershipLevel, pk=pk)
        return Response(_save_level(request, level, partial=False))

    @extend_schema(
        summary="Change some of a tier's settings",
        request=LevelInputSerializer,
        responses={200: LevelSerializer, **WRITE_RESPONSES},
        tags=["membership"],
    )
    def patch(self, request, pk):
        level = get_object_or_404(MembershipLevel, pk=pk)
        return Response(_save_level(request, level, partial=True))

    @extend_schema(
        summary="Delete a tier nobody holds",
        description=(
            "Refused with 409 while customers are in the tier or hold an active membership of "
            "it. Needs membership.delete_membershiplevel."
        ),
        responses={
            204: OpenApiResponse(description="Deleted."),
            409: OpenApiResponse(description="Customers or memberships are in this tier."),
        },
        tags=["membership"],
    )
    def delete(self, request, pk):
        level = get_object_or_404(MembershipLevel, pk=pk)
        level_services.delete_level(level=level, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LevelBenefitListView(GenericAPIView):
    serializer_class = LevelBenefitSerializer
    pagination_class = PagePagination
    permission_classes = [ModelPermissions.for_model(Benefit)]
    queryset = MembershipLevel.objects.all()

    @extend_schema(
        summary="A tier's benefits, inactive and out-of-date ones included",
        description="In the tier's order. Needs membership.view_benefit.",
        responses=LevelBenefitSerializer(many=True),
        tags=["membership"],
    )
    def get(self, request, pk):
        level = get_object_or_404(MembershipLevel.objects.only("pk"), pk=pk)
        page = self.paginate_queryset(level.benefits.order_by("sort_order", "id"))
        return self.get_paginated_response(LevelBenefitSerializer(page, many=True).data)

    @extend_schema(
        summary="Add a benefit to a tier",
        description=(
            "A discount's value is percent off (at most 100), a points multiplier's the factor. "
            "Needs membership.add_benefit."
        ),
        request=BenefitInputSerializer,
        responses={201: LevelBenefitSerializer, 400: WRITE_RESPONSES[400]},
        tags=["membership"],
    )
    def post(self, request, pk):
        level = get_object_or_404(MembershipLevel.objects.only("pk"), pk=pk)
        benefit = _save_benefit(request, Benefit(level=level), partial=False)
        return Response(benefit, status=status.HTTP_201_CREATED)


class LevelBenefitDetailView(GenericAPIView):
    serializer_class = LevelBenefitSerializer
    permission_classes = [ModelPermissions.for_model(Benefit)]
    queryset = MembershipLevel.objects.all()

    @extend_schema(
        summary="Replace a benefit",
        description="type and description are required; other fields left out keep their values.",
        request=BenefitInputSerializer,
        responses={200: LevelBenefitSerializer, 400: WRITE_RESPONSES[400]},
        tags=["membership"],
    )
    def put(self, request, pk, benefit_id):
        return Response(_save_benefit(request, _level_benefit(pk, benefit_id), partial=False))

    @extend_schema(
        summary="Change some of a benefit's fields",
        request=BenefitInputSerializer,
        responses={200: LevelBenefitSerializer, 400: WRITE_RESPONSES[400]},
        tags=["membership"],
    )
    def patch(self, request, pk, benefit_id):
        return Response(_save_benefit(request, _level_benefit(pk, benefit_id), partial=True))

    @extend_schema(
        summary="Delete a benefit nobody has used",
        description="A used benefit is refused with 409: deactivate it (isActive false) instead.",
        responses={
            204: OpenApiResponse(description="Deleted."),
            409: OpenApiResponse(description="The benefit has usage records."),
        },
        tags=["membership"],
    )
    def delete(self, request, pk, benefit_id):
        benefit = _level_benefit(pk, benefit_id)
        benefit_services.delete_benefit(benefit=benefit, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _save_level(request, level: MembershipLevel, *, partial: bool) -> dict:
    apply_body(
        request,
        level,
        LevelInputSerializer,
        save=lambda: level_services.save_level(level=level, actor=request.user),
        partial=partial,
    )
    return LevelSerializer(listed_levels().get(pk=level.pk), context={"request": request}).data


def _level_benefit(level_id: int, benefit_id: int) -> Benefit:
    return get_object_or_404(Benefit, pk=benefit_id, level_id=level_id)


def _save_benefit(request, benefit: Benefit, *, partial: bool) -> dict:
    apply_body(
        request,
        benefit,
        BenefitInputSerializer,
        save=lambda: benefit_services.save_benefit(benefit=benefit, actor=request.user),
        partial=partial,
    )
    return LevelBenefitSerializer(benefit).data
