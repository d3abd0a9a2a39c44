"""Django's makemessages, writing the catalogue sorted by msgid and without source locations.

Sorted and location-free, the .po file changes only where a message is added or removed: moving
code between files, or two changes adding messages at once, no longer rewrite it and collide.
`make messages` runs it for the project's one language and compiles the result.
"""

from django.core.management.commands import makemessages

SORTED = ["--sort-output"]


class Command(makemessages.Command):
    # A new message starts untranslated, never with the translation of a similar one (msgmerge
    # would guess, and mark it fuzzy): a wrong guess reads as a finished translation.
    msgmerge_options = [*makemessages.Command.msgmerge_options, *SORTED, "--no-fuzzy-matching"]
    msguniq_options = [*makemessages.Command.msguniq_options, *SORTED]
    msgattrib_options = [*makemessages.Command.msgattrib_options, *SORTED]
    xgettext_options = [*makemessages.Command.xgettext_options, *SORTED]

    def handle(self, *args, **options):
        options["no_location"] = True
        options["ignore_patterns"] = [*options["ignore_patterns"], ".venv", ".data", "bench"]
        return super().handle(*args, **options)
