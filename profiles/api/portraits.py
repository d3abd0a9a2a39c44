"""GET/PATCH /api/v1/customers/{id}/profile: a customer's portrait in the shape of spec 4.4,
and the occupation and income staff set by hand. Thin: profiles.services.portraits decides."""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from crm.access_log import register_read
from crm.api.inputs import InputSerializer
from crm.permissions import permissions_by_method
from customers.models import Customer, Gender
from customers.selectors import customer_profile_tags
from profiles.models import DeviceClass, EventChannel, Frequency, IncomeBand, Occupation
from profiles.roles import ANNOTATE, VIEW
from profiles.services.portraits import portrait, portrait_annotate

MAX_DAYS = 366
VALUE_SOURCES = ["manual", "inferred"]
SOURCE_HELP = "manual: set by staff (wins); inferred: guessed from the orders; null: unknown."


def _codes(help_text: str, max_length: int = 100):
    return serializers.ListField(
        child=serializers.CharField(max_length=max_length), help_text=help_text
    )


class BasicProfileSerializer(serializers.Serializer):
    age = serializers.CharField(allow_null=True, help_text='Age band from the birthday: "30-40".')
    gender = serializers.ChoiceField(choices=Gender.choices)
    location = serializers.CharField(
        allow_null=True, help_text="City of the default (else newest) address."
    )
    occupation = serializers.ChoiceField(choices=Occupation.choices, allow_null=True)
    occupationSource = serializers.ChoiceField(
        choices=VALUE_SOURCES, allow_null=True, help_text=SOURCE_HELP
    )
    occupationConfidence = serializers.DecimalField(
        max_digits=3, decimal_places=2, allow_null=True, coerce_to_string=False
    )
    income = serializers.ChoiceField(choices=IncomeBand.choices, allow_null=True)
    incomeSource = serializers.ChoiceField(
        choices=VALUE_SOURCES, allow_null=True, help_text=SOURCE_HELP
    )
    incomeConfidence = serializers.DecimalField(
        max_digits=3, decimal_places=2, allow_null=True, coerce_to_string=False
    )


class PeriodFiguresSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField(help_text="Included.")
    orders = serializers.IntegerField()
    spent = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False)


class ComparisonSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    current = PeriodFiguresSerializer()
    previousPeriod = PeriodFiguresSerializer(source="previous_period")
    samePeriodLastYear = PeriodFiguresSerializer(source="same_period_last_year")


class ConsumptionProfileSerializer(serializers.Serializer):
    avgOrderValue = serializers.DecimalField(
        max_digits=12, decimal_places=2, coerce_to_string=False
    )
    frequency = serializers.ChoiceField(choices=Frequency.choices)
    favoriteCategories = _codes("Top 3 by quantity ordered.")
    favoriteDishes = _codes("Top 5 by quantity ordered.")
    favoriteTastes = _codes("Top 3 by quantity ordered.")
    priceRange = serializers.CharField(
        help_text='Average order value band: "50-100"; "" without orders.'
    )
    paymentPreferences = _codes("Payment methods, the most used first (top 2).")
    preferredOrderChannel = serializers.CharField(help_text="The order channel most used.")
    totalSpent = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False)
    orderCount = serializers.IntegerField()
    comparison = ComparisonSerializer()


class BehaviorProfileSerializer(serializers.Serializer):
    peakHours = _codes('The hours with the most orders (top 2): "12:00-13:00".')
    preferredChannel = serializers.CharField(
        help_text=f'The event channel most used: {", ".join(EventChannel.values)}; "" without.'
    )
    device = serializers.CharField(
        help_text=f'The device class most used: {", ".join(DeviceClass.values[:-1])}; "" without.'
    )
    avgSessionDuration = serializers.IntegerField(help_text="Seconds per visit.")
    browsingPattern = _codes(
        "When the guest browses: the two busiest of morning, lunchtime, afternoon, evening, "
        "late_night, then weekday or weekend."
    )
    visitCount = serializers.IntegerField(help_text="Sessions (an event without one: a visit).")
    totalDuration = serializers.IntegerField(help_text="Seconds.")
    browsedCategories = _codes("Top 3 viewed.")
    browsedDishes = _codes("Top 5 viewed.")
    reviews = serializers.IntegerField()
    shares = serializers.IntegerField()
    favourites = serializers.IntegerField()


class PortraitSerializer(serializers.Serializer):
    customerId = serializers.CharField()
    basicProfile = BasicProfileSerializer()
    consumptionProfile = ConsumptionProfileSerializer()
    behaviorProfile = BehaviorProfileSerializer()
    tags = _codes("Tag names, the most important (highest weight) first; details: /tags.")
    updatedAt = serializers.DateTimeField(allow_null=True, help_text="When a figure last changed.")


class PortraitQuerySerializer(InputSerializer):
    days = serializers.IntegerField(
        min_value=1,
        max_value=MAX_DAYS,
        default=90,
        required=False,
        help_text="The comparison's period in days, today included.",
    )


class AnnotationSerializer(InputSerializer):
    occupation = serializers.ChoiceField(
        choices=Occupation.choices, allow_blank=True, required=False, help_text='"" clears it.'
    )
    income = serializers.ChoiceField(
        choices=IncomeBand.choices, allow_blank=True, required=False, help_text='"" clears it.'
    )

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(_("Name occupation, income or both."))
        return attrs


def portrait_data(customer: Customer, *, days: int) -> dict:
    facts = portrait(customer, days=days)
    p = facts["profile"]
    return {
        "customerId": str(customer.pk),
        "basicProfile": {
            "age": facts["age"],
            "gender": customer.gender,
            "location": facts["location"],
            "occupation": facts["occupation"]["value"],
            "occupationSource": facts["occupation"]["source"],
            "occupationConfidence": facts["occupation_confidence"],
            "income": facts["income"]["value"],
            "incomeSource": facts["income"]["source"],
            "incomeConfidence": facts["income_confidence"],
        },
        "consumptionProfile": {
            "avgOrderValue": p.avg_order_value,
            "frequency": p.frequency,
            "favoriteCategories": p.favourite_categories,
            "favoriteDishes": p.favourite_dishes,
            "favoriteTastes": p.favourite_tastes,
            "priceRange": p.price_range,
            "paymentPreferences": p.payment_preferences,
            "preferredOrderChannel": p.preferred_order_channel,
            "totalSpent": p.total_spent,
            "orderCount": p.order_count,
            "comparison": facts["comparison"],
        },
        "behaviorProfile": {
            "peakHours": p.peak_hours,
            "preferredChannel": p.preferred_channel,
            "device": p.device,
            "avgSessionDuration": p.avg_session_seconds,
            "browsingPattern": p.browsing_pattern,
            "visitCount": p.visit_count,
            "totalDuration": p.total_duration_seconds,
            "browsedCategories": p.browsed_categories,
            "browsedDishes": p.browsed_dishes,
            "reviews": p.reviews,
            "shares": p.shares,
            "favourites": p.favourites,
        },
        "tags": [tag["name"] for tag in customer_profile_tags(customer.pk)],
        "updatedAt": p.computed_at,
    }


class CustomerPortraitView(GenericAPIView):
    serializer_class = PortraitSerializer

    def get_permissions(self):
        return permissions_by_method(self, {"GET": [VIEW], "PATCH": [ANNOTATE]})

    @extend_schema(
        summary="A customer's portrait (spec 4.4): basic, consumption and behaviour, and tags",
        description=(
            "Enumerations are codes (occupation white_collar, channel mini_program), as "
            "frequency and device are in spec 4.4; the admin shows their names. Figures are "
            "kept up to date after each order and event batch, and rebuilt nightly. Needs "
            f"{VIEW}."
        ),
        parameters=[PortraitQuerySerializer],
        tags=["profiles"],
    )
    def get(self, request, pk):
        customer = self._customer(pk)
        query = PortraitQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        days = query.validated_data["days"]
        register_read(customer_ids=[customer.pk])
        return Response(PortraitSerializer(portrait_data(customer, days=days)).data)

    @extend_schema(
        summary="Set the occupation or income staff know (spec 支持手动标注)",
        description=(
            'A value set here wins over the inferred one and the rebuild keeps it; "" goes '
            f"back to the inferred value. Audited. Needs {ANNOTATE}."
        ),
        request=AnnotationSerializer,
        tags=["profiles"],
    )
    def patch(self, request, pk):
        customer = self._customer(pk)
        data = AnnotationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = {"occupation": "occupation_manual", "income": "income_manual"}
        changes = {fields[key]: value for key, value in data.validated_data.items()}
        portrait_annotate(customer=customer, actor=request.user, changes=changes)
        return Response(PortraitSerializer(portrait_data(customer, days=90)).data)

    def _customer(self, pk):
        return get_object_or_404(Customer.objects.filter(erased_at__isnull=True), pk=pk)
