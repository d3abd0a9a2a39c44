"""Text that is stored rather than shown at once (ledger reasons, change records written by the
system) is rendered in the site's default language, whoever's request or job wrote it."""

from django.conf import settings
from django.utils import translation


def in_default_language(message, **params) -> str:
    """`message` (a lazy gettext string) in LANGUAGE_CODE, with %-style `params` filled in."""
    with translation.override(settings.LANGUAGE_CODE):
        text = str(message)
        return text % params if params else text
