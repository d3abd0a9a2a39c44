"""What each role may do with profiles (docs/roles.md); granted in ProfilesConfig.ready.

Behaviour events: the ordering system, apps and mini-programs send them with the API token of
the same service user that records orders (customers.add_order: operations and manager), so
those roles record events; managers also read them in the admin. Tag rules: managers and
marketing run tagging (spec 2.4.4), as they build segments. Portraits: those who serve and
market to guests read them and set the occupation and income they learn (spec 支持手动标注)."""

from crm.roles import CUSTOMER_SERVICE, MANAGER, MARKETING, OPERATIONS, model_perms

RECORD = "profiles.record_events"
VIEW = "profiles.view_customerprofile"
ANNOTATE = "profiles.annotate_customerprofile"
TAG_RULES = model_perms("profiles", "tagrule")

PROFILES_ROLE_PERMISSIONS: dict[str, set[str]] = {
    MANAGER: {RECORD, "profiles.view_behaviourevent", VIEW, ANNOTATE} | TAG_RULES,
    MARKETING: {VIEW, ANNOTATE} | TAG_RULES,
    CUSTOMER_SERVICE: {VIEW, ANNOTATE},
    OPERATIONS: {RECORD},
}
