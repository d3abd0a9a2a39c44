from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from crm.roles import ROLE_PERMISSIONS, sync_role_permissions


class Command(BaseCommand):
    help = (
        "Make each role group's permissions equal crm.roles.ROLE_PERMISSIONS (migrate does it too)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default")

    def handle(self, *args, database, **options):
        skipped = sync_role_permissions(using=database)
        for role in ROLE_PERMISSIONS:
            missing = skipped.get(role, [])
            line = _("%(role)s: %(count)d permissions") % {
                "role": role,
                "count": len(ROLE_PERMISSIONS[role]) - len(missing),
            }
            if missing:
                line += " " + _("(not yet created, skipped: %(names)s)") % {
                    "names": ", ".join(missing)
                }
            self.stdout.write(line)
