from datetime import date
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from crm.errors import BusinessError
from segments.services.rfm import Weights, rfm_run_create, rfm_run_execute


class Command(BaseCommand):
    help = "Run an RFM analysis over a date range now (spec 2.3.1) and print its tiers."

    def add_arguments(self, parser):
        parser.add_argument("--start", type=date.fromisoformat, required=True)
        parser.add_argument("--end", type=date.fromisoformat, required=True)
        parser.add_argument("--tiers", type=int, default=5)
        parser.add_argument("--weights", default="1,1,1", help="Weights of R, F and M, e.g. 2,1,1.")

    def handle(self, *args, start, end, tiers, weights, **options):
        try:
            r, f, m = (Decimal(part) for part in weights.split(","))
            run = rfm_run_create(
                actor=None, start=start, end=end, tiers=tiers, weights=Weights(r, f, m)
            )
        except (ValueError, ArithmeticError):
            raise CommandError("--weights takes three numbers, e.g. 2,1,1.") from None
        except BusinessError as error:
            raise CommandError(str(error.message)) from None
        run = rfm_run_execute(run_id=run.pk)
        self.stdout.write(f"RFM run {run.pk}: {run.scored} scored, {run.unscored} unscored")
        for tier in run.summary["tiers"]:
            self.stdout.write(f"  tier {tier['tier']}: {tier['count']}")
