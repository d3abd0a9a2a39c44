from django.core.management.base import BaseCommand

from profiles.services.portraits import rebuild_portraits


class Command(BaseCommand):
    help = (
        "Rebuild the customer portraits: those with orders, refunds or events since the last "
        "run, or every customer with --full. Logged as a JobRun; safe to re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="Every customer.")

    def handle(self, *args, full, **options):
        run = rebuild_portraits(full=full)
        counts = run.counts
        self.stdout.write(
            f"{counts['type']}: {counts['customers']} customers, {counts['updated']} updated, "
            f"{counts['batches']} batches in {run.duration}."
        )
