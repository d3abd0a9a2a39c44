from datetime import date

from django.core.management.base import BaseCommand

from membership.services.backfill import backfill_membership


class Command(BaseCommand):
    help = (
        "Bring loaded data under the membership rules: an opening-balance ledger entry for each "
        "customer with points and no ledger, then every customer's tier evaluated. Run it after "
        "loading demo data, generated data or an import from a previous system; running it "
        "again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date", help="Run as of this date (YYYY-MM-DD) instead of today.", default=None
        )

    def handle(self, *args, **options):
        today = date.fromisoformat(options["date"]) if options["date"] else None
        result = backfill_membership(today=today)
        self.stdout.write(
            f"opening balances: {result.opening_lots} customers, {result.opening_points} points; "
            f"tiers: {result.evaluation.counts()}"
        )
