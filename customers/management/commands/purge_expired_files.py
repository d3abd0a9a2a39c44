from django.core.management.base import BaseCommand

from customers.services.files import purge_expired_files


class Command(BaseCommand):
    help = (
        "Delete the export and import-error files past their expiry "
        "(EXPORT_FILE_RETENTION_DAYS, IMPORT_FILE_RETENTION_DAYS) and uploads abandoned between "
        "the import steps; the records stay. celery-beat runs it every night; safe to re-run."
    )

    def handle(self, *args, **options):
        run = purge_expired_files()
        self.stdout.write(f"{run.name}: {run.duration.total_seconds():.1f} s, {run.counts}")
