import json
import os
from pathlib import Path

from django.core.management.base import CommandError

from customers.imports.columns import parse_mapping
from customers.imports.customers import ON_DUPLICATE, customers_import
from customers.management.commands._import_command import ImportCommand


class Command(ImportCommand):
    help = (
        "Import customers from a CSV or XLSX file: every row validated, good rows written in "
        "batches through COPY, bad rows returned in an error file with their reasons."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
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
        parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
        parser.add_argument("--batch-size", type=int, default=5000)

    def run_import(self, *, path, actor, progress, options):
        return customers_import(
            actor=actor,
            path=path,
            mapping=_mapping(options["mapping"]),
            on_duplicate=options["on_duplicate"],
            all_or_nothing=options["all_or_nothing"],
            dry_run=options["dry_run"],
            workers=options["workers"],
            batch_size=options["batch_size"],
            progress=progress,
        )

    def report(self, result, *, seconds, options, prefix=""):
        prefix = "[dry run] " if options["dry_run"] else prefix
        super().report(result, seconds=seconds, options=options, prefix=prefix)


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
