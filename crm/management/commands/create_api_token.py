from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from crm.auth.tokens import create_api_token


class Command(BaseCommand):
    help = "Create an API token for a user and print its key, once: it is stored only as a hash."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--name", default="", help="What the token is for, e.g. 'POS store 12'."
        )

    def handle(self, *args, username, name, **options):
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist:
            raise CommandError(_("No user named %(username)s.") % {"username": username}) from None
        if not user.is_active:
            raise CommandError(
                _("%(username)s is inactive; activate the user first.") % {"username": username}
            )
        token, key = create_api_token(user=user, name=name)
        self.stderr.write(
            _("Token %(prefix)s… created for %(username)s; copy the key, it is not shown again:")
            % {"prefix": token.prefix, "username": username}
        )
        # The key alone on stdout, so `KEY=$(manage.py create_api_token pos)` works.
        self.stdout.write(key)
