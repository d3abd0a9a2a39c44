from django.urls import path

from profiles.api import events

urlpatterns = [
    path("events", events.EventBatchView.as_view(), name="event-batch"),
]
