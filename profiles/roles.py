"""What each role may do with tag rules (docs/roles.md); granted in ProfilesConfig.ready.
Managers and marketing run tagging (spec 2.4.4), as they build segments."""

from crm.roles import MANAGER, MARKETING, model_perms

TAG_RULES = model_perms("profiles", "tagrule")

PROFILES_ROLE_PERMISSIONS: dict[str, set[str]] = {MANAGER: TAG_RULES, MARKETING: TAG_RULES}
