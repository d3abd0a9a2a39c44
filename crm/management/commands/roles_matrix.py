from django.core.management.base import BaseCommand, CommandError

from crm.roles_matrix import DOCS, document_with_matrix, render_matrix


class Command(BaseCommand):
    help = "Print the role matrix from crm.roles, or write it into docs/roles.md (--write)."

    def add_arguments(self, parser):
        parser.add_argument("--write", action="store_true", help="Rewrite docs/roles.md's block.")

    def handle(self, *args, write, **options):
        if not write:
            self.stdout.write(render_matrix())
            return
        try:
            DOCS.write_text(document_with_matrix(DOCS.read_text()))
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{DOCS} updated.")
