"""Messages of the libraries we use that reach our users but have no Simplified Chinese
catalogue of their own: django-filter ships zh_CN, which Django does not load for zh-hans.

Marked here only so that `make messages` keeps them in our catalogue; Django looks a message up
in every catalogue, ours first, whichever app's code asks for it. Nothing imports this module.
"""

from django.utils.translation import gettext_noop

MESSAGES = [
    # django-filter: the description of a filter taking several values (level=vip,svip).
    gettext_noop("Multiple values may be separated by commas."),
]
