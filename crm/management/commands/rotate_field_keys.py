from crm.key_rotation import UnreadableValue, rotate_field_keys
from crm.management.batch_pass import BatchPassCommand


class Command(BatchPassCommand):
    help = (
        "Re-encrypt every encrypted column, history included, under the newest key of "
        "FIELD_ENCRYPTION_KEYS, in batches. Resumable: a re-run skips what is done. "
        'docs/configuration.md, "Personal data encryption".'
    )
    refusals = (UnreadableValue,)

    def run_pass(self, *, batch_size, dry_run, max_batches, options):
        return rotate_field_keys(batch_size=batch_size, dry_run=dry_run, max_batches=max_batches)
