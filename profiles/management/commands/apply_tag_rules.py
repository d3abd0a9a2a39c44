from django.core.management.base import BaseCommand

from profiles.services.tag_rules import apply_tag_rules


class Command(BaseCommand):
    help = "Apply the tag rules: add their tags to matching customers, remove them from others."

    def add_arguments(self, parser):
        parser.add_argument("--rule", type=int, action="append", help="Only this rule's id.")

    def handle(self, *args, rule, **options):
        counts = apply_tag_rules(rule_ids=rule)
        self.stdout.write(f"{counts['added']} added, {counts['removed']} removed.")
