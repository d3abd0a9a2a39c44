from datetime import date

from django.core.management.base import BaseCommand, CommandError

from customers.devdata.generate import TableNotEmpty, generate_data


class Command(BaseCommand):
    help = (
        "Load generated customers and two years of their orders with COPY, for benchmarks "
        "(customers/devdata/generate.py). Refuses a database that has customers unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=1_000_000)
        parser.add_argument("--orders", type=int, default=10_000_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--batch", type=int, default=50_000, help="COPY rows per write")
        parser.add_argument(
            "--end-date",
            type=date.fromisoformat,
            default=None,
            help="Last day of orders (default today); fixes the dates for repeatable runs.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Truncate customers, orders and every table referencing them first.",
        )

    def handle(self, *args, customers, orders, seed, batch, end_date, force, **options):
        if customers < 0 or orders < 0 or batch < 1:
            raise CommandError("--customers and --orders must be >= 0, --batch >= 1.")
        try:
            result = generate_data(
                customers=customers,
                orders=orders,
                seed=seed,
                end_date=end_date,
                force=force,
                batch=batch,
                log=self.stdout.write,
            )
        except TableNotEmpty:
            raise CommandError(
                "The customers table is not empty: run with --force to truncate customers, "
                "orders and everything that references them."
            ) from None
        total = sum(result.timings.values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {result.customers:,} customers, {result.orders:,} orders and "
                f"{result.items:,} order items in {total:.1f} s."
            )
        )
