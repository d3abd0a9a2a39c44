from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from profiles.services.event_partitions import EVENTS


class Command(BaseCommand):
    help = (
        "Create the behaviour events' partitions of this month and the next, and drop those "
        "older than BEHAVIOUR_EVENT_RETENTION_DAYS (the nightly job does it too). "
        "docs/profiles.md."
    )

    def handle(self, *args, **options):
        run = EVENTS.maintain()
        self.stdout.write(
            _("Partitions created: %(created)d, dropped: %(dropped)d.")
            % {"created": run.counts["created"], "dropped": run.counts["dropped"]}
        )
