from django.core.management.base import BaseCommand

from segments.demo import load_demo_segments


class Command(BaseCommand):
    help = "Create the demo segments and an RFM run once; a second run changes nothing."

    def handle(self, *args, **options):
        created = load_demo_segments()
        if created:
            self.stdout.write(self.style.SUCCESS(f"Created {created} demo segments."))
        else:
            self.stdout.write("Demo segments already there; nothing to do.")
