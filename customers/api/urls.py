from django.urls import path

from customers.api import views

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
]
