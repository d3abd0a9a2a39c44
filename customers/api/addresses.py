"""A customer's addresses and notes after creation (spec 2.1.1 收货地址/默认地址, 备注信息)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from crm.access_log import register_read
from crm.api.pagination import PagePagination
from crm.permissions import HasPerms, permissions_by_method
from customers import services
from customers.api.serializers import AddressSerializer, NoteSerializer
from customers.models import Address, Customer, CustomerNote
from customers.pii_access import RevealContext, can_reveal, record_reveal


class AddressCreateView(GenericAPIView):
    serializer_class = AddressSerializer
    permission_classes = [HasPerms("customers.add_address")]

    @extend_schema(
        summary="Add an address to a customer",
        request=AddressSerializer,
        responses={201: AddressSerializer},
    )
    def post(self, request, pk):
        customer = get_object_or_404(Customer, pk=pk)
        body = AddressSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        address = services.address_add(customer=customer, actor=request.user, **body.validated_data)
        return Response(_shown(request, address), status=status.HTTP_201_CREATED)


class AddressDetailView(GenericAPIView):
    serializer_class = AddressSerializer

    def get_permissions(self):
        return permissions_by_method(
            self,
            {"PATCH": ["customers.change_address"], "DELETE": ["customers.delete_address"]},
        )

    @extend_schema(
        summary="Change an address (isDefault: true makes it the only default)",
        request=AddressSerializer,
        responses=AddressSerializer,
    )
    def patch(self, request, pk, address_id):
        address = get_object_or_404(Address, pk=address_id, customer_id=pk)
        body = AddressSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        address = services.address_update(
            address=address, actor=request.user, changes=body.validated_data
        )
        return Response(_shown(request, address))

    @extend_schema(
        summary="Delete an address (the oldest other one becomes default)",
        responses={204: OpenApiResponse(description="Deleted.")},
    )
    def delete(self, request, pk, address_id):
        address = get_object_or_404(Address, pk=address_id, customer_id=pk)
        services.address_delete(address=address, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NoteListCreateView(GenericAPIView):
    serializer_class = NoteSerializer
    pagination_class = PagePagination

    def get_permissions(self):
        return permissions_by_method(
            self,
            {"GET": ["customers.view_customernote"], "POST": ["customers.add_customernote"]},
        )

    def get_queryset(self):
        return CustomerNote.objects.select_related("author")

    @extend_schema(summary="A customer's notes, newest first", responses=NoteSerializer(many=True))
    def get(self, request, pk):
        customer = get_object_or_404(Customer, pk=pk)
        page = self.paginate_queryset(self.get_queryset().filter(customer=customer))
        if page:
            register_read(customer_ids=[customer.pk], count=len(page))
        return self.get_paginated_response(NoteSerializer(page, many=True).data)

    @extend_schema(
        summary="Add a note to a customer",
        request=NoteSerializer,
        responses={201: NoteSerializer},
    )
    def post(self, request, pk):
        customer = get_object_or_404(Customer, pk=pk)
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        note = services.note_add(
            customer=customer, actor=request.user, body=body.validated_data["body"]
        )
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)


def _shown(request, address: Address) -> dict:
    reveal = can_reveal(request.user)
    if reveal:
        record_reveal(
            actor=request.user, customers=[address.customer], context=RevealContext.API_ADDRESS
        )
    return AddressSerializer(address, context={"reveal": reveal}).data
