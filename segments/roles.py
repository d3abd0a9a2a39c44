"""What each role may do with segments and RFM runs (docs/roles.md); granted in
SegmentsConfig.ready. Managers and marketing build and run them (spec 2.3); who may see a
segment's members follows the customer list's rules (the member lists also need
customers.view_customer, and phones stay masked without the reveal permission)."""

from crm.roles import MANAGER, MARKETING, model_perms

SEGMENTS = (
    model_perms("segments", "rfmrun", actions=("view", "add"))
    | model_perms("segments", "segment")
    | {"segments.refresh_segment"}
)

SEGMENTS_ROLE_PERMISSIONS: dict[str, set[str]] = {MANAGER: SEGMENTS, MARKETING: SEGMENTS}
