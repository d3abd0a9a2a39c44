from django.core.management.base import BaseCommand

from customers.devdata.demo import load_demo_customers


class Command(BaseCommand):
    help = "Load about 1,000 demo customers once; a second run changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=1000)

    def handle(self, *args, customers, **options):
        created = load_demo_customers(customers)
        if created:
            self.stdout.write(self.style.SUCCESS(f"Loaded {created} demo customers."))
        else:
            self.stdout.write("Demo data already loaded; nothing to do.")
