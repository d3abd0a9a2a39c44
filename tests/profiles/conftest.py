"""Fixtures for the profiles tests."""

import pytest

from tests.customers.conftest import (  # noqa: F401
    make_customer,
    manager,
    marketer,
)


@pytest.fixture
def make_rule():
    from customers.models import Tag
    from profiles.models import TagRule

    def make(tag_name, condition, *, confidence="0.80", **fields):
        tag, _created = Tag.objects.get_or_create(name=tag_name, defaults={"type": "auto"})
        return TagRule.objects.create(tag=tag, condition=condition, confidence=confidence, **fields)

    return make
