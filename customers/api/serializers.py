"""Request and response shapes of the customer API (spec 4.1), keys in camelCase."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from crm.api.inputs import InputSerializer
from customers.api.communications import CommunicationSerializer
from customers.api.orders import OrderSerializer
from customers.models import CustomerSource, CustomerStatus, Gender
from customers.pii_access import shown_email, shown_phone


class RevealMixin:
    """Phone and e-mail masked unless the view put reveal=True in the context."""

    def phone_of(self, obj) -> str | None:
        return shown_phone(obj.phone, reveal=self.context.get("reveal", False))

    def email_of(self, obj) -> str | None:
        return shown_email(obj.email, reveal=self.context.get("reveal", False))


class CustomerListItemSerializer(RevealMixin, serializers.Serializer):
    id = serializers.CharField(read_only=True)
    customerNo = serializers.CharField(source="customer_no")
    name = serializers.CharField()
    phone = serializers.SerializerMethodField()
    email = serializers.SerializerMethodField()
    gender = serializers.CharField()
    level = serializers.CharField()
    points = serializers.IntegerField()
    totalSpent = serializers.DecimalField(source="total_spent", max_digits=14, decimal_places=2)
    orderCount = serializers.IntegerField(source="order_count")
    lastOrderDate = serializers.DateTimeField(source="last_order_date", allow_null=True)
    registerDate = serializers.DateField(source="register_date")
    status = serializers.CharField()
    source = serializers.CharField()
    tags = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")

    def get_phone(self, obj) -> str | None:
        return self.phone_of(obj)

    def get_email(self, obj) -> str | None:
        return self.email_of(obj)

    def get_tags(self, obj) -> list[str]:
        return [tag.name for tag in obj.tags.all()]


class AddressSerializer(RevealMixin, InputSerializer):
    id = serializers.CharField(read_only=True)
    label = serializers.CharField(max_length=20, required=False, allow_blank=True)
    recipient = serializers.CharField(max_length=64, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    province = serializers.CharField(max_length=32, required=False, allow_blank=True)
    city = serializers.CharField(max_length=32, required=False, allow_blank=True)
    district = serializers.CharField(max_length=32, required=False, allow_blank=True)
    detail = serializers.CharField(max_length=200)
    postalCode = serializers.CharField(
        source="postal_code", max_length=10, required=False, allow_blank=True
    )
    isDefault = serializers.BooleanField(source="is_default", required=False, default=False)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["phone"] = self.phone_of(instance)
        if not self.context.get("reveal", False):
            data["detail"] = "****" if instance.detail else ""
        return data


class NoteSerializer(InputSerializer):
    id = serializers.CharField(read_only=True)
    body = serializers.CharField(max_length=2000)
    author = serializers.CharField(source="author.username", default=None, read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)


class ProfileSerializer(RevealMixin, serializers.Serializer):
    name = serializers.CharField()
    phone = serializers.SerializerMethodField()
    email = serializers.SerializerMethodField()
    gender = serializers.CharField()
    birthday = serializers.DateField(allow_null=True)
    avatar = serializers.CharField()

    def get_phone(self, obj) -> str | None:
        return self.phone_of(obj)

    def get_email(self, obj) -> str | None:
        return self.email_of(obj)


class StatsSerializer(serializers.Serializer):
    totalSpent = serializers.DecimalField(source="total_spent", max_digits=14, decimal_places=2)
    orderCount = serializers.IntegerField(source="order_count")
    avgOrderValue = serializers.DecimalField(
        source="avg_order_value", max_digits=12, decimal_places=2
    )
    points = serializers.IntegerField()
    firstOrderDate = serializers.DateTimeField(source="first_order_date", allow_null=True)
    lastOrderDate = serializers.DateTimeField(source="last_order_date", allow_null=True)


class CustomerDetailSerializer(serializers.Serializer):
    id = serializers.CharField()
    customerNo = serializers.CharField(source="customer_no")
    profile = ProfileSerializer(source="*")
    stats = StatsSerializer(source="*")
    level = serializers.CharField()
    status = serializers.CharField()
    source = serializers.CharField()
    registerDate = serializers.DateField(source="register_date")
    tags = serializers.SerializerMethodField()
    addresses = AddressSerializer(many=True)
    notes = NoteSerializer(many=True, source="recent_notes")
    orders = OrderSerializer(many=True, source="recent_orders")
    communications = CommunicationSerializer(many=True, source="recent_communications")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    def get_tags(self, obj) -> list[str]:
        return [tag.name for tag in obj.tags.all()]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # Roles without the address, note or communication permission see the lists empty.
        if not self.context.get("show_addresses", False):
            data["addresses"] = []
        if not self.context.get("show_notes", False):
            data["notes"] = []
        if not self.context.get("show_communications", False):
            data["communications"] = []
        return data


class VerificationSerializer(InputSerializer):
    password = serializers.CharField(write_only=True, trim_whitespace=False)


class CustomerInputSerializer(InputSerializer):
    """POST and PUT bodies (PUT replaces the profile; PATCH sends only what changes)."""

    name = serializers.CharField(max_length=64)
    phone = serializers.CharField(max_length=32)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, allow_null=True)
    gender = serializers.ChoiceField(choices=Gender.choices, required=False)
    birthday = serializers.DateField(required=False, allow_null=True)
    avatar = serializers.URLField(max_length=500, required=False, allow_blank=True)
    source = serializers.ChoiceField(choices=CustomerSource.choices, required=False)
    registerDate = serializers.DateField(required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


class CustomerCreateSerializer(CustomerInputSerializer):
    customerNo = serializers.CharField(max_length=32, required=False)
    addresses = AddressSerializer(many=True, required=False)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class CustomerUpdateSerializer(CustomerInputSerializer):
    status = serializers.ChoiceField(choices=CustomerStatus.choices, required=False)
    verification = VerificationSerializer(required=False)


class CustomerCreatedSerializer(serializers.Serializer):
    id = serializers.CharField()
    customerNo = serializers.CharField(source="customer_no")
    createdAt = serializers.DateTimeField(source="created_at")


class CustomerUpdatedSerializer(serializers.Serializer):
    id = serializers.CharField()
    updatedAt = serializers.DateTimeField(source="updated_at")


class BatchUpdateSetSerializer(InputSerializer):
    status = serializers.ChoiceField(choices=CustomerStatus.choices, required=False)
    source = serializers.ChoiceField(choices=CustomerSource.choices, required=False)


class BatchUpdateSerializer(InputSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=10_000
    )
    filter = serializers.DictField(required=False)
    set = BatchUpdateSetSerializer(required=False, default=dict)
    addTags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    removeTags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def validate(self, attrs):
        if ("ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError(
                _("Give either ids (a list of customer ids) or filter (list query parameters).")
            )
        if not (attrs.get("set") or attrs.get("addTags") or attrs.get("removeTags")):
            raise serializers.ValidationError(
                _("Nothing to change: give set, addTags or removeTags.")
            )
        return attrs


class BatchUpdatedSerializer(serializers.Serializer):
    updated = serializers.IntegerField()
    matched = serializers.IntegerField()


class EraseSerializer(InputSerializer):
    reason = serializers.CharField(max_length=500)


class HistoryChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.JSONField()
    new = serializers.JSONField()


class HistoryEntrySerializer(serializers.Serializer):
    id = serializers.CharField()
    at = serializers.DateTimeField()
    type = serializers.CharField()
    actor = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_null=True)
    changes = HistoryChangeSerializer(many=True)
