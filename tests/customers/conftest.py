import itertools

import pytest

from customers.services import customer_create

_phones = itertools.count(13800000001)


def next_phone() -> str:
    return str(next(_phones))


@pytest.fixture
def make_customer():
    """Create a customer through the service, as every caller does; unique phones by default."""

    def make(name="张三", phone=None, actor=None, **fields):
        return customer_create(actor=actor, name=name, phone=phone or next_phone(), **fields)

    return make


@pytest.fixture
def manager(make_user):
    return make_user("manager", roles=["manager"])


@pytest.fixture
def marketer(make_user):
    return make_user("marketer", roles=["marketing"])
