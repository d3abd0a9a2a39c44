from django.core.management.base import BaseCommand

from customers.services.follow_up_reminders import run_follow_up_reminders


class Command(BaseCommand):
    help = (
        "Send today's follow-up digests to their owners and report long-overdue follow-ups to "
        "the managers. celery-beat runs it every morning; a second run sends nothing twice."
    )

    def handle(self, *args, **options):
        run = run_follow_up_reminders()
        self.stdout.write(f"{run.name}: {run.duration.total_seconds():.1f} s, {run.counts}")
