from django.urls import path

from segments.api import rfm, segments

urlpatterns = [
    path("segments/rfm-runs", rfm.RfmRunListView.as_view(), name="rfm-run-list"),
    path("segments/rfm-runs/<int:pk>", rfm.RfmRunDetailView.as_view(), name="rfm-run-detail"),
    path(
        "segments/rfm-runs/<int:pk>/customers",
        rfm.RfmRunCustomersView.as_view(),
        name="rfm-run-customers",
    ),
    path("customers/segments", segments.SegmentListView.as_view(), name="segment-list"),
    path(
        "customers/segments/preview",
        segments.SegmentPreviewView.as_view(),
        name="segment-preview",
    ),
    path(
        "customers/segments/fields",
        segments.ConditionFieldsView.as_view(),
        name="segment-condition-fields",
    ),
    path(
        "customers/segments/<int:pk>", segments.SegmentDetailView.as_view(), name="segment-detail"
    ),
    path(
        "customers/segments/<int:pk>/customers",
        segments.SegmentMembersView.as_view(),
        name="segment-members",
    ),
    path(
        "customers/segments/<int:pk>/refresh",
        segments.SegmentRefreshView.as_view(),
        name="segment-refresh",
    ),
    path(
        "customers/segments/<int:pk>/report",
        segments.SegmentReportView.as_view(),
        name="segment-report",
    ),
    path(
        "customers/segments/<int:pk>/analysis",
        segments.SegmentAnalysisView.as_view(),
        name="segment-analysis",
    ),
]
