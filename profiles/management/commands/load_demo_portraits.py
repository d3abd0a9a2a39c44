from django.core.management.base import BaseCommand

from profiles.demo import load_demo_portraits


class Command(BaseCommand):
    help = (
        "Create demo behaviour events and build every portrait once; a second run changes nothing."
    )

    def handle(self, *args, **options):
        created = load_demo_portraits()
        if created["portraits"]:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created {created['events']} demo events and {created['portraits']} portraits."
                )
            )
        else:
            self.stdout.write("Demo portraits already there; nothing to do.")
