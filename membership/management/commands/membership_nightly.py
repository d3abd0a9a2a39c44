from datetime import date

from django.core.management.base import BaseCommand

from membership.services.nightly import run_nightly


class Command(BaseCommand):
    help = (
        "Run the nightly membership job now: expire memberships and points, evaluate every "
        "customer's tier. celery-beat runs it every night."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date", help="Run as of this date (YYYY-MM-DD) instead of today.", default=None
        )

    def handle(self, *args, **options):
        today = date.fromisoformat(options["date"]) if options["date"] else None
        run = run_nightly(today=today)
        self.stdout.write(f"{run.name}: {run.duration.total_seconds():.1f} s, {run.counts}")
