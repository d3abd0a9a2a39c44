"""What each role may do with customers (docs/roles.md); granted in CustomersConfig.ready."""

from crm.roles import CUSTOMER_SERVICE, FINANCE, MANAGER, MARKETING, OPERATIONS, model_perms

CUSTOMER_SPECIAL = {
    "customers.reveal_customer_pii",
    "customers.tag_customer",
    "customers.erase_customer",
    "customers.export_customer",
    "customers.import_customer",
    "customers.batch_update_customer",
    "customers.download_any_file",
}

CUSTOMER_ROLE_PERMISSIONS: dict[str, set[str]] = {
    MANAGER: (
        model_perms("customers", "customer", "address", "tag", "customernote")
        | CUSTOMER_SPECIAL
        | model_perms("customers", "order", "communication")
        | model_perms("customers", "importrecord", "exportrecord", actions=("view",))
        | {"customers.refund_order"}
    ),
    CUSTOMER_SERVICE: (
        model_perms(
            "customers", "customer", "address", "customernote", actions=("view", "add", "change")
        )
        | model_perms("customers", "tag", actions=("view",))
        | model_perms("customers", "order", actions=("view",))
        | model_perms("customers", "communication", actions=("view", "add", "change"))
        | {"customers.reveal_customer_pii"}
    ),
    MARKETING: (
        # Tags only: no profile field, no phone or e-mail.
        model_perms("customers", "customer", actions=("view",))
        | {"customers.tag_customer"}
        | model_perms("customers", "tag", actions=("view", "add", "change"))
        | model_perms("customers", "order", "communication", "exportrecord", actions=("view",))
        | {"customers.export_customer", "customers.batch_update_customer"}
    ),
    FINANCE: (
        model_perms("customers", "customer", "order", "exportrecord", actions=("view",))
        | {"customers.export_customer", "customers.refund_order"}
    ),
    OPERATIONS: (
        model_perms(
            "customers",
            "customer",
            "address",
            "customernote",
            "tag",
            actions=("view", "add", "change"),
        )
        | model_perms("customers", "order", actions=("view", "add"))
        | model_perms("customers", "communication", actions=("view",))
        | model_perms("customers", "importrecord", "exportrecord", actions=("view",))
        | {
            "customers.import_customer",
            "customers.export_customer",
            "customers.batch_update_customer",
        }
    ),
}
