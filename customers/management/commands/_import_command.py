"""What the import commands share: the file and importer arguments, and the closing report.

Django does not take modules starting with "_" as commands.
"""

import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from customers.imports.progress import ProgressBar
from customers.imports.reader import ImportFileError


class ImportCommand(BaseCommand):
    progress_label = "import"

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
        progress = None if options["no_progress"] else ProgressBar(self.progress_label, self.stderr)
        started = time.monotonic()
        try:
            result = self.run_import(path=path, actor=actor, progress=progress, options=options)
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        self.report(result, seconds=time.monotonic() - started, options=options)
        if result.stopped:
            raise CommandError(result.message)

    def run_import(self, *, path, actor, progress, options):
        raise NotImplementedError

    def report(self, result, *, seconds, options, prefix=""):
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
