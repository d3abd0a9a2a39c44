"""A customer's tags (spec 2.4.4, 5.4 ProfileTag): read, add manual ones, remove."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from crm.access_log import register_read
from crm.api.inputs import InputSerializer
from crm.permissions import permissions_by_method
from customers import services
from customers.api.views import PROFILE_OR_TAGS
from customers.models import Customer, Tag, TagSource, TagType
from customers.selectors import customer_profile_tags


class ProfileTagSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=TagType.choices, help_text="auto: set by a tag rule.")
    confidence = serializers.DecimalField(max_digits=3, decimal_places=2, coerce_to_string=False)
    source = serializers.ChoiceField(choices=TagSource.choices)
    weight = serializers.IntegerField(help_text="The tag's importance, 1 to 100.")


class ProfileTagsSerializer(serializers.Serializer):
    tags = ProfileTagSerializer(many=True)


class TagNamesSerializer(InputSerializer):
    tags = serializers.ListField(
        child=serializers.CharField(max_length=Tag._meta.get_field("name").max_length),
        min_length=1,
        max_length=100,
    )


class TagsChangedSerializer(ProfileTagsSerializer):
    changed = serializers.ListField(
        child=serializers.CharField(), help_text="The names added (or made manual) or removed."
    )


class CustomerTagsView(GenericAPIView):
    serializer_class = ProfileTagsSerializer

    def get_permissions(self):
        return permissions_by_method(
            self,
            {
                "GET": ["customers.view_customer"],
                "POST": PROFILE_OR_TAGS,
                "DELETE": PROFILE_OR_TAGS,
            },
        )

    @extend_schema(
        summary="A customer's tags, the most important (highest weight) first",
        responses=ProfileTagsSerializer,
    )
    def get(self, request, pk):
        customer = get_object_or_404(Customer, pk=pk)
        register_read(customer_ids=[customer.pk])
        return Response({"tags": customer_profile_tags(customer.pk)})

    @extend_schema(
        summary="Add manual tags to a customer",
        description=(
            "Unknown tag names are created, which needs customers.add_tag. A tag a rule had set "
            "becomes manual, and no rule removes it then."
        ),
        request=TagNamesSerializer,
        responses=TagsChangedSerializer,
    )
    def post(self, request, pk):
        customer, changed = self._change(request, pk, services.customer_tags_add, request.data)
        return Response({"changed": changed, "tags": customer_profile_tags(customer.pk)})

    @extend_schema(
        summary="Remove tags from a customer",
        description=(
            "The query names the tags, repeated: ?tags=常客&tags=辣 (a DELETE has no body that "
            "every client and proxy keeps). 204, as every DELETE; GET shows the tags left. A "
            "rule-set tag is removed too; the rule sets it "
            "again at its next evaluation while the customer still matches it."
        ),
        parameters=[TagNamesSerializer],
        responses={
            204: OpenApiResponse(description="Removed (names the customer does not carry too)."),
            400: OpenApiResponse(description="No tags named, or a name too long."),
        },
    )
    def delete(self, request, pk):
        self._change(request, pk, services.customer_tags_remove, request.query_params)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _change(self, request, pk, change, data):
        # Archived and erased customers are not worked with: their tags do not change.
        customer = get_object_or_404(Customer.objects.live(), pk=pk)
        names = TagNamesSerializer(data=data)
        names.is_valid(raise_exception=True)
        changed = change(customer=customer, actor=request.user, names=names.validated_data["tags"])
        return customer, changed
