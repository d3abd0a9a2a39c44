from datetime import date

from django.core.management.base import BaseCommand

from segments.services.nightly import run_nightly


class Command(BaseCommand):
    help = (
        "Run the nightly segments job now: an RFM run over the last RFM_NIGHTLY_DAYS days, then "
        "every segment refreshed with a snapshot. celery-beat runs it every night."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date", help="Run as of this date (YYYY-MM-DD) instead of today.", default=None
        )

    def handle(self, *args, **options):
        today = date.fromisoformat(options["date"]) if options["date"] else None
        self.stdout.write(f"segments.nightly: {run_nightly(today=today)}")
