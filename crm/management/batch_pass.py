"""The base of the commands that run a resumable pass over rows in batches (crm.keyset): the
same options, the same refusal handling and the same report for each."""

from django.core.management.base import BaseCommand, CommandError

from crm.keyset import pass_report


class BatchPassCommand(BaseCommand):
    """--batch-size, --dry-run and --max-batches, then the pass's report. A subclass gives
    `run_pass(batch_size=, dry_run=, max_batches=, options=)` and `refusals`, the errors that
    stop the pass with a message for the operator rather than a traceback."""

    refusals: tuple[type[Exception], ...] = ()

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000, help="Rows per batch.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the rows to change, change nothing."
        )
        parser.add_argument(
            "--max-batches",
            type=int,
            default=None,
            help="Stop after this many batches (spread the pass over several runs).",
        )

    def run_pass(self, *, batch_size: int, dry_run: bool, max_batches: int | None, options):
        raise NotImplementedError

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            run = self.run_pass(
                batch_size=options["batch_size"],
                dry_run=options["dry_run"],
                max_batches=options["max_batches"],
                options=options,
            )
        except self.refusals as exc:
            raise CommandError(str(exc)) from None
        for line in pass_report(run):
            self.stdout.write(line)
