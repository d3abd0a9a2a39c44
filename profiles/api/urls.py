from django.urls import path

from profiles.api import events, portraits

urlpatterns = [
    path("events", events.EventBatchView.as_view(), name="event-batch"),
    path(
        "customers/<int:pk>/profile",
        portraits.CustomerPortraitView.as_view(),
        name="customer-portrait",
    ),
]
