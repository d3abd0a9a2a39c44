from django.urls import path

from membership.api import benefits, enrollment, levels, points

urlpatterns = [
    path("membership/levels", levels.LevelListView.as_view(), name="membership-level-list"),
    path(
        "membership/levels/<int:pk>",
        levels.LevelDetailView.as_view(),
        name="membership-level-detail",
    ),
    path(
        "membership/levels/<int:pk>/benefits",
        levels.LevelBenefitListView.as_view(),
        name="membership-level-benefit-list",
    ),
    path(
        "membership/levels/<int:pk>/benefits/<int:benefit_id>",
        levels.LevelBenefitDetailView.as_view(),
        name="membership-level-benefit-detail",
    ),
    path("membership/enroll", enrollment.EnrollView.as_view(), name="membership-enroll"),
    path(
        "membership/enroll/batch",
        enrollment.EnrollBatchView.as_view(),
        name="membership-enroll-batch",
    ),
    path(
        "membership/memberships",
        enrollment.MembershipListView.as_view(),
        name="membership-list",
    ),
    path(
        "membership/memberships/<int:pk>/cancel",
        enrollment.MembershipCancelView.as_view(),
        name="membership-cancel",
    ),
    path(
        "membership/memberships/<int:pk>/renew",
        enrollment.MembershipRenewView.as_view(),
        name="membership-renew",
    ),
    path(
        "membership/level-change",
        enrollment.LevelChangeView.as_view(),
        name="membership-level-change",
    ),
    path(
        "membership/level-changes",
        enrollment.LevelChangeListView.as_view(),
        name="membership-level-change-list",
    ),
    path(
        "membership/benefits",
        benefits.CustomerBenefitsView.as_view(),
        name="membership-customer-benefits",
    ),
    path(
        "membership/benefits/<int:pk>/use",
        benefits.BenefitUseView.as_view(),
        name="membership-benefit-use",
    ),
    path(
        "membership/benefit-usages",
        benefits.BenefitUsageListView.as_view(),
        name="membership-benefit-usage-list",
    ),
    path("membership/points/adjust", points.PointsAdjustView.as_view(), name="points-adjust"),
    path("membership/points/redeem", points.PointsRedeemView.as_view(), name="points-redeem"),
    path("membership/points/release", points.PointsReleaseView.as_view(), name="points-release"),
    path(
        "customers/<int:pk>/points",
        points.CustomerPointsView.as_view(),
        name="customer-points",
    ),
]
