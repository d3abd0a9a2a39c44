from django.urls import path

from customers.api import addresses, communications, exports, orders, tags, views

urlpatterns = [
    path("customers", views.CustomerListCreateView.as_view(), name="customer-list"),
    path(
        "customers/batch-update",
        views.CustomerBatchUpdateView.as_view(),
        name="customer-batch-update",
    ),
    path("customers/export", exports.CustomerExportView.as_view(), name="customer-export"),
    path("customers/<int:pk>", views.CustomerDetailView.as_view(), name="customer-detail"),
    path("customers/<int:pk>/pdf", exports.CustomerPdfView.as_view(), name="customer-pdf"),
    path(
        "customers/<int:pk>/history",
        views.CustomerHistoryView.as_view(),
        name="customer-history",
    ),
    path("customers/<int:pk>/erase", views.CustomerEraseView.as_view(), name="customer-erase"),
    path(
        "customers/<int:pk>/addresses",
        addresses.AddressCreateView.as_view(),
        name="customer-address-create",
    ),
    path(
        "customers/<int:pk>/addresses/<int:address_id>",
        addresses.AddressDetailView.as_view(),
        name="customer-address-detail",
    ),
    path("customers/<int:pk>/tags", tags.CustomerTagsView.as_view(), name="customer-tags"),
    path("customers/<int:pk>/notes", addresses.NoteListCreateView.as_view(), name="customer-notes"),
    path(
        "customers/<int:pk>/orders",
        orders.CustomerOrderListView.as_view(),
        name="customer-order-list",
    ),
    path(
        "customers/<int:pk>/communications",
        communications.CustomerCommunicationListView.as_view(),
        name="customer-communication-list",
    ),
    path("follow-ups", communications.FollowUpListView.as_view(), name="follow-up-list"),
    path(
        "follow-ups/<int:pk>",
        communications.FollowUpDetailView.as_view(),
        name="follow-up-detail",
    ),
    path(
        "follow-ups/<int:pk>/done",
        communications.FollowUpDoneView.as_view(),
        name="follow-up-done",
    ),
    path("exports", exports.ExportListView.as_view(), name="export-list"),
    path("exports/<int:pk>", exports.ExportDetailView.as_view(), name="export-detail"),
    path(
        "exports/<int:pk>/download",
        exports.ExportDownloadView.as_view(),
        name="export-download",
    ),
    path("orders", orders.OrderCreateView.as_view(), name="order-create"),
    path("orders/<int:pk>/refund", orders.OrderRefundView.as_view(), name="order-refund"),
]
