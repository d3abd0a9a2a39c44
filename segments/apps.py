from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = _("Segments")

    def ready(self):
        # Segments extends the core only through its registries (docs/architecture.md,
        # "Extension points"): the core never imports this app.
        from crm.roles import register_role_permissions
        from customers.conditions import register_condition_field
        from customers.filters import register_customer_filter
        from segments.conditions import RFM_FIELDS, segment_filter
        from segments.roles import SEGMENTS_ROLE_PERMISSIONS

        register_role_permissions(SEGMENTS_ROLE_PERMISSIONS)
        for field in RFM_FIELDS:
            register_condition_field(field)
        register_customer_filter("segment", segment_filter())
