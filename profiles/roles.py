"""What each role may do with behaviour events (docs/roles.md); granted in ProfilesConfig.ready.

The ordering system, apps and mini-programs send events with the API token of the same service
user that records orders (customers.add_order: operations and manager), so those roles record
events; managers also read them in the admin."""

from crm.roles import MANAGER, OPERATIONS

RECORD = "profiles.record_events"

PROFILES_ROLE_PERMISSIONS: dict[str, set[str]] = {
    MANAGER: {RECORD, "profiles.view_behaviourevent"},
    OPERATIONS: {RECORD},
}
