import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from customers.imports.orders import orders_import
from customers.imports.progress import ProgressBar
from customers.imports.reader import ImportFileError


class Command(BaseCommand):
    help = (
        "Import historical orders from a CSV or XLSX file (one row per item; the rows of one "
        "order share externalId). Each order is recorded once, as POST /api/v1/orders does."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--user", default="", help="Username recorded as the importer.")
        parser.add_argument(
            "--errors-out", default="", help="Also write the error file to this path."
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"No user {options['user']!r}.")
        started = time.monotonic()
        try:
            result = orders_import(
                actor=actor,
                path=path,
                progress=None if options["no_progress"] else ProgressBar("orders", self.stderr),
            )
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        seconds = time.monotonic() - started
        self.stdout.write(result.message)
        self.stdout.write(
            f"{result.total_rows} rows in {seconds:.1f} s "
            f"({result.total_rows / max(seconds, 1e-6):,.0f} rows/s)."
        )
        self.stdout.write(f"Import record #{result.record.pk}.")
        if result.record.error_file:
            self.stdout.write(f"Error file: {result.record.error_file.name}")
        if result.error_file is not None and options["errors_out"]:
            Path(options["errors_out"]).write_bytes(result.error_file)
            self.stdout.write(f"Error file written to {options['errors_out']}.")
