"""Tags by name, created on first use (spec 2.1.1 客户标签)."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.errors import NotAllowed
from customers.models import (
    Tag,
)


def tags_get_or_create(names: Iterable[str], *, actor=None) -> list[Tag]:
    """The tags with these names; missing ones are created as manual tags, which needs the
    permission to add tags (`actor=None` is the system itself, e.g. an import)."""
    cleaned = sorted({name.strip() for name in names if name and name.strip()})
    for name in cleaned:
        if len(name) > Tag._meta.get_field("name").max_length:
            raise ValidationError({"tags": [_("A tag name has at most 50 characters.")]})
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=cleaned)}
    missing = [name for name in cleaned if name not in existing]
    if missing and actor is not None and not actor.has_perm("customers.add_tag"):
        raise NotAllowed(
            _("These tags do not exist and you may not create tags: %s.") % ", ".join(missing)
        )
    for name in cleaned:
        if name not in existing:
            existing[name], _created = Tag.objects.get_or_create(name=name)
    return [existing[name] for name in cleaned]
