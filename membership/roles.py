"""What each role may do with membership (docs/roles.md); granted in MembershipConfig.ready."""

from crm.roles import CUSTOMER_SERVICE, FINANCE, MANAGER, MARKETING, OPERATIONS, model_perms

MEMBERSHIP_READ = model_perms(
    "membership",
    "membershiplevel",
    "benefit",
    "membership",
    "levelchange",
    "pointsentry",
    "benefitusage",
    "membershippurchase",
    actions=("view",),
)

MEMBERSHIP_ROLE_PERMISSIONS: dict[str, set[str]] = {
    MANAGER: (
        model_perms("membership", "membershiplevel", "benefit", "membership")
        | model_perms("membership", "benefitusage", actions=("view", "add"))
        | model_perms("membership", "pointspolicy", actions=("view", "change"))
        | MEMBERSHIP_READ
        | {
            "membership.change_customer_level",
            "membership.enroll_member",
            "membership.adjust_points",
            "membership.redeem_points",
        }
    ),
    CUSTOMER_SERVICE: (
        MEMBERSHIP_READ
        | model_perms("membership", "benefitusage", actions=("view", "add"))
        | {"membership.enroll_member", "membership.redeem_points"}
    ),
    MARKETING: MEMBERSHIP_READ | {"membership.enroll_member"},
    FINANCE: (
        MEMBERSHIP_READ
        | model_perms("membership", "pointspolicy", actions=("view",))
        | {"membership.adjust_points"}
    ),
    OPERATIONS: (
        MEMBERSHIP_READ
        | model_perms("membership", "benefitusage", actions=("view", "add"))
        | {"membership.enroll_member", "membership.redeem_points"}
    ),
}
