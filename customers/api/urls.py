from django.urls import path

from customers.api import orders, views

urlpatterns = [
    path("customers", views.CustomerListCreateView.as_view(), name="customer-list"),
    path(
        "customers/batch-update",
        views.CustomerBatchUpdateView.as_view(),
        name="customer-batch-update",
    ),
    path("customers/<int:pk>", views.CustomerDetailView.as_view(), name="customer-detail"),
    path(
        "customers/<int:pk>/history",
        views.CustomerHistoryView.as_view(),
        name="customer-history",
    ),
    path("customers/<int:pk>/erase", views.CustomerEraseView.as_view(), name="customer-erase"),
    path(
        "customers/<int:pk>/orders",
        orders.CustomerOrderListView.as_view(),
        name="customer-order-list",
    ),
    path("orders", orders.OrderCreateView.as_view(), name="order-create"),
    path("orders/<int:pk>/refund", orders.OrderRefundView.as_view(), name="order-refund"),
]
