from django.urls import path

from segments.api import rfm

urlpatterns = [
    path("segments/rfm-runs", rfm.RfmRunListView.as_view(), name="rfm-run-list"),
    path("segments/rfm-runs/<int:pk>", rfm.RfmRunDetailView.as_view(), name="rfm-run-detail"),
    path(
        "segments/rfm-runs/<int:pk>/customers",
        rfm.RfmRunCustomersView.as_view(),
        name="rfm-run-customers",
    ),
]
