"""Customer endpoints of spec 4.1: thin views that validate, call a service, and shape JSON."""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers as drf_serializers
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from crm.access_log import register_read
from crm.api.pagination import PagePagination
from crm.permissions import HasAnyPerm, HasPerms, permissions_by_method
from customers import services
from customers.api import serializers
from customers.filters import CustomerFilter, batch_selection
from customers.models import Customer
from customers.pii_access import RevealContext, can_reveal, record_reveal
from customers.selectors import customer_detail, customer_history_entries, customer_list

PROFILE_KEYS = {
    "name": "name",
    "phone": "phone",
    "email": "email",
    "gender": "gender",
    "birthday": "birthday",
    "avatar": "avatar",
    "source": "source",
    "registerDate": "register_date",
}


class CustomerListCreateView(GenericAPIView):
    filter_backends = [DjangoFilterBackend]
    filterset_class = CustomerFilter
    pagination_class = PagePagination
    serializer_class = serializers.CustomerListItemSerializer

    def get_permissions(self):
        return permissions_by_method(
            self, {"GET": ["customers.view_customer"], "POST": ["customers.add_customer"]}
        )

    def get_queryset(self):
        return customer_list()

    @extend_schema(
        summary="List customers",
        responses=serializers.CustomerListItemSerializer(many=True),
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        register_read(customer_ids=[customer.pk for customer in page])
        reveal = can_reveal(request.user)
        if reveal:
            record_reveal(actor=request.user, customers=page, context=RevealContext.API_LIST)
        data = serializers.CustomerListItemSerializer(page, many=True, context={"reveal": reveal})
        return self.get_paginated_response(data.data)

    @extend_schema(
        summary="Create a customer",
        request=serializers.CustomerCreateSerializer,
        responses={201: serializers.CustomerCreatedSerializer},
    )
    def post(self, request):
        body = serializers.CustomerCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        customer = services.customer_create(
            actor=request.user,
            **_profile(data),
            customer_no=data.get("customerNo"),
            tags=data.get("tags", ()),
            addresses=data.get("addresses", ()),
            note=data.get("note", ""),
            reason=data.get("reason", ""),
        )
        return Response(
            serializers.CustomerCreatedSerializer(customer).data, status=status.HTTP_201_CREATED
        )


# The service decides which fields each may change (a tag-only editor changes only the tags).
PROFILE_OR_TAGS = HasAnyPerm("customers.change_customer", "customers.tag_customer")


class CustomerDetailView(GenericAPIView):
    serializer_class = serializers.CustomerDetailSerializer

    def get_permissions(self):
        return permissions_by_method(
            self,
            {
                "GET": ["customers.view_customer"],
                "PUT": PROFILE_OR_TAGS,
                "PATCH": PROFILE_OR_TAGS,
                "DELETE": ["customers.delete_customer"],
            },
        )

    def get_queryset(self):
        return Customer.objects.all()

    @extend_schema(summary="Customer detail", responses=serializers.CustomerDetailSerializer)
    def get(self, request, pk):
        try:
            customer = customer_detail(pk=pk)
        except Customer.DoesNotExist:
            raise NotFound(_("No customer with this id.")) from None
        register_read(customer_ids=[customer.pk])
        reveal = can_reveal(request.user)
        if reveal:
            record_reveal(
                actor=request.user, customers=[customer], context=RevealContext.API_DETAIL
            )
        context = {
            "reveal": reveal,
            "show_addresses": request.user.has_perm("customers.view_address"),
            "show_notes": request.user.has_perm("customers.view_customernote"),
            "show_communications": request.user.has_perm("customers.view_communication"),
        }
        data = serializers.CustomerDetailSerializer(customer, context=context).data
        return Response(data)

    @extend_schema(
        summary="Replace a customer's profile",
        description=(
            "The body of POST /customers: name and phone are required. Optional fields left out "
            "keep their stored values (send null or an empty string to clear one). A changed "
            "phone or e-mail needs verification.password, the caller's own password."
        ),
        request=serializers.CustomerUpdateSerializer,
        responses=serializers.CustomerUpdatedSerializer,
    )
    def put(self, request, pk):
        return self._update(request, pk, partial=False)

    @extend_schema(
        summary="Change some of a customer's fields",
        description=(
            "Only the fields sent change. A user with customers.tag_customer but not "
            "customers.change_customer (marketing) may change only the tags: any other changed "
            "field is refused with 403."
        ),
        request=serializers.CustomerUpdateSerializer,
        responses=serializers.CustomerUpdatedSerializer,
    )
    def patch(self, request, pk):
        return self._update(request, pk, partial=True)

    @extend_schema(
        summary="Archive a customer (soft delete)",
        responses={204: OpenApiResponse(description="Archived.")},
    )
    def delete(self, request, pk):
        customer = get_object_or_404(Customer, pk=pk)
        services.customer_archive(customer=customer, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request, pk, *, partial):
        customer = get_object_or_404(Customer, pk=pk)
        body = serializers.CustomerUpdateSerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        changes = _profile(data)
        if "status" in data:
            changes["status"] = data["status"]
        customer = services.customer_update(
            customer=customer,
            actor=request.user,
            changes=changes,
            tags=data.get("tags"),
            verification_password=data.get("verification", {}).get("password"),
            reason=data.get("reason", ""),
        )
        return Response(serializers.CustomerUpdatedSerializer(customer).data)


class CustomerHistoryView(GenericAPIView):
    pagination_class = PagePagination
    serializer_class = serializers.HistoryEntrySerializer

    def get_permissions(self):
        return [HasPerms("customers.view_customer")()]

    def get_queryset(self):
        return Customer.history.none()

    @extend_schema(
        summary="A customer's edit history, newest first",
        responses=serializers.HistoryEntrySerializer(many=True),
    )
    def get(self, request, pk):
        customer = get_object_or_404(Customer, pk=pk)
        records = customer.history.select_related("history_user").order_by(
            "-history_date", "-history_id"
        )
        page = self.paginate_queryset(records)
        if page:
            register_read(customer_ids=[customer.pk], count=len(page))
        older = None
        if page:
            last = page[-1]
            older = records.filter(history_date__lt=last.history_date).first()
        reveal = can_reveal(request.user)
        if reveal and page:
            record_reveal(
                actor=request.user, customers=[customer], context=RevealContext.API_HISTORY
            )
        entries = customer_history_entries(page, older=older, reveal=reveal)
        return self.get_paginated_response(
            serializers.HistoryEntrySerializer(entries, many=True).data
        )


class CustomerBatchUpdateView(GenericAPIView):
    serializer_class = serializers.BatchUpdateSerializer

    def get_permissions(self):
        return [HasPerms("customers.batch_update_customer")()]

    @extend_schema(
        summary="Edit many customers at once (all or nothing)",
        request=serializers.BatchUpdateSerializer,
        responses=serializers.BatchUpdatedSerializer,
    )
    def post(self, request):
        body = serializers.BatchUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if "ids" in data:
            customers = Customer.objects.filter(pk__in=data["ids"])
            missing = set(data["ids"]) - set(customers.values_list("pk", flat=True))
            if missing:
                raise ValidationError(
                    {"ids": [_("No customer with id %s.") % ", ".join(map(str, sorted(missing)))]}
                )
        else:
            customers = batch_selection(data["filter"])
        matched = customers.count()
        updated = services.customers_batch_update(
            actor=request.user,
            customers=customers,
            set_fields=data.get("set", {}),
            add_tags=data.get("addTags", ()),
            remove_tags=data.get("removeTags", ()),
            reason=data.get("reason", ""),
        )
        return Response({"updated": updated, "matched": matched})


class CustomerEraseView(GenericAPIView):
    serializer_class = serializers.EraseSerializer

    def get_permissions(self):
        return [HasPerms("customers.erase_customer")()]

    @extend_schema(
        summary="Erase a customer's personal data (privacy request)",
        request=serializers.EraseSerializer,
        responses=inline_serializer(
            "CustomerErased",
            {"id": drf_serializers.CharField(), "erasedAt": drf_serializers.DateTimeField()},
        ),
    )
    def post(self, request, pk):
        customer = get_object_or_404(Customer.objects.select_for_update(), pk=pk)
        body = serializers.EraseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.customer_erase(
            customer=customer, actor=request.user, reason=body.validated_data["reason"]
        )
        return Response({"id": str(customer.pk), "erasedAt": customer.erased_at})


def _profile(data: dict) -> dict:
    return {field: data[key] for key, field in PROFILE_KEYS.items() if key in data}
