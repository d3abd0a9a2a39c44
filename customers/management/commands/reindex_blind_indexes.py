from django.core.management.base import BaseCommand, CommandError

from crm.keyset import pass_report
from customers.services.blind_indexes import ReindexNotReady, reindex_blind_indexes


class Command(BaseCommand):
    help = (
        "Move the phone and e-mail blind indexes to a new key, in batches (resumable): without "
        "--finish, fill the second index columns under BLIND_INDEX_KEY_NEXT; with --finish, "
        "after the switch, rewrite the first columns under BLIND_INDEX_KEY and empty the "
        'second. docs/configuration.md, "Personal data encryption".'
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--finish",
            action="store_true",
            help="Step 3, after BLIND_INDEX_KEY became the new key: drop the old key's hashes.",
        )
        parser.add_argument("--batch-size", type=int, default=1000, help="Rows per batch.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the rows to rewrite, change nothing."
        )
        parser.add_argument(
            "--max-batches", type=int, default=None, help="Stop after this many batches."
        )

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            run = reindex_blind_indexes(
                finish=options["finish"],
                batch_size=options["batch_size"],
                dry_run=options["dry_run"],
                max_batches=options["max_batches"],
            )
        except ReindexNotReady as exc:
            raise CommandError(str(exc)) from None
        for line in pass_report(run):
            self.stdout.write(line)
