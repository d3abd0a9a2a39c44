"""The one parser of request bodies: JSON, checked before any serializer sees it.

PostgreSQL cannot store NUL in text, and a lone surrogate cannot even be encoded back into a
response (UTF-8 has no form for it), so either, anywhere in the body, keys included, is refused
with a 400 naming where it is. So are bodies that are not UTF-8, not JSON (NaN and Infinity
included: JSON has neither), or nested deeper than any request of this API needs.
"""

import json
import re

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

from crm.api.inputs import ClientKey

# The deepest body of this API is an order: body > items > item > tastes > taste (4 levels).
MAX_DEPTH = 16
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError(_("The body is not UTF-8 text: send JSON encoded as UTF-8.")) from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, RecursionError):
            raise ParseError(_("The body is not valid JSON.")) from None
        _check(data, path=(), depth=0)
        return data


def _refuse_constant(name):
    raise ValueError(name)


def _check(value, *, path: tuple, depth: int) -> None:
    """`depth`: how many objects and lists enclose `value`."""
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        raise ParseError(
            _("The body is nested more than %(depth)s levels deep.") % {"depth": MAX_DEPTH}
        )
    if isinstance(value, str):
        if UNSTORABLE.search(value):
            _refuse_text(path)
    elif isinstance(value, dict):
        for key, item in value.items():
            if UNSTORABLE.search(key):
                _refuse_text(path)
            _check(item, path=(*path, ClientKey(key)), depth=depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, path=(*path, index), depth=depth + 1)


def _refuse_text(path: tuple):
    """A 400 naming the field at `path` (the body itself when empty), nested as the body is."""
    detail = [_("Text may not contain NUL characters or unpaired surrogates (\\u0000, \\ud800).")]
    for key in reversed(path):
        detail = {key: detail}
    raise ValidationError(detail)
