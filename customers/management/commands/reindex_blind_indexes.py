from crm.management.batch_pass import BatchPassCommand
from customers.services.blind_indexes import ReindexNotReady, reindex_blind_indexes


class Command(BatchPassCommand):
    help = (
        "Move the phone and e-mail blind indexes to a new key, in batches (resumable): without "
        "--finish, fill the second index columns under BLIND_INDEX_KEY_NEXT; with --finish, "
        "after the switch, rewrite the first columns under BLIND_INDEX_KEY and empty the "
        'second. docs/configuration.md, "Personal data encryption".'
    )
    refusals = (ReindexNotReady,)

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--finish",
            action="store_true",
            help="Step 3, after BLIND_INDEX_KEY became the new key: drop the old key's hashes.",
        )

    def run_pass(self, *, batch_size, dry_run, max_batches, options):
        return reindex_blind_indexes(
            finish=options["finish"],
            batch_size=batch_size,
            dry_run=dry_run,
            max_batches=max_batches,
        )
