import json
import os
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from customers.imports.columns import parse_mapping
from customers.imports.customers import ON_DUPLICATE, customers_import
from customers.imports.progress import ProgressBar
from customers.imports.reader import ImportFileError


class Command(BaseCommand):
    help = (
        "Import customers from a CSV or XLSX file: every row validated, good rows written in "
        "batches through COPY, bad rows returned in an error file with their reasons."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--mapping",
            default="",
            help="'file header=field,...' or a JSON file {header: field}; '' ignores a header.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Validate and count only.")
        parser.add_argument("--on-duplicate", choices=ON_DUPLICATE, default="skip")
        parser.add_argument(
            "--all-or-nothing", action="store_true", help="Write nothing if any row is bad."
        )
        parser.add_argument("--user", default="", help="Username recorded as the importer.")
        parser.add_argument(
            "--errors-out", default="", help="Also write the error file to this path."
        )
        parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
        parser.add_argument("--batch-size", type=int, default=5000)
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
            result = customers_import(
                actor=actor,
                path=path,
                mapping=_mapping(options["mapping"]),
                on_duplicate=options["on_duplicate"],
                all_or_nothing=options["all_or_nothing"],
                dry_run=options["dry_run"],
                workers=options["workers"],
                batch_size=options["batch_size"],
                progress=None if options["no_progress"] else ProgressBar("import", self.stderr),
            )
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        seconds = time.monotonic() - started
        prefix = "[dry run] " if options["dry_run"] else ""
        self.stdout.write(f"{prefix}{result.message}")
        self.stdout.write(
            f"{result.total_rows} rows in {seconds:.1f} s "
            f"({result.total_rows / max(seconds, 1e-6):,.0f} rows/s)."
        )
        if result.record is not None:
            self.stdout.write(f"Import record #{result.record.pk}.")
            if result.record.error_file:
                self.stdout.write(f"Error file: {result.record.error_file.name}")
        if result.error_file is not None and options["errors_out"]:
            Path(options["errors_out"]).write_bytes(result.error_file)
            self.stdout.write(f"Error file written to {options['errors_out']}.")
        elif result.errors and result.record is None:
            for row_no in sorted(result.errors)[:20]:
                self.stdout.write(f"row {row_no}: {'; '.join(result.errors[row_no])}")
        if result.stopped:
            raise CommandError(result.message)


def _mapping(text: str) -> dict | None:
    if not text:
        return None
    if text.endswith(".json") and Path(text).is_file():
        try:
            mapping = json.loads(Path(text).read_text(encoding="utf-8"))
        except ValueError as error:
            raise CommandError(f"The mapping file is not valid JSON: {error}") from None
        if not isinstance(mapping, dict):
            raise CommandError("The mapping file must hold an object {header: field}.")
        return {str(k): str(v or "") for k, v in mapping.items()}
    try:
        return parse_mapping(text)
    except ValueError as error:
        raise CommandError(f"Mapping entries look like 'header=field', not {error}.") from None
