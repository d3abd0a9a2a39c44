from django.core.management.base import BaseCommand, CommandError

from crm.key_rotation import UnreadableValue, rotate_field_keys
from crm.keyset import pass_report


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted column, history included, under the newest key of "
        "FIELD_ENCRYPTION_KEYS, in batches. Resumable: a re-run skips what is done. "
        'docs/configuration.md, "Personal data encryption".'
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000, help="Rows per batch.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the rows to rotate, change nothing."
        )
        parser.add_argument(
            "--max-batches",
            type=int,
            default=None,
            help="Stop after this many batches (spread the pass over several runs).",
        )

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            run = rotate_field_keys(
                batch_size=options["batch_size"],
                dry_run=options["dry_run"],
                max_batches=options["max_batches"],
            )
        except UnreadableValue as exc:
            raise CommandError(str(exc)) from None
        for line in pass_report(run):
            self.stdout.write(line)
