"""Concurrent creation: numbers never repeat and one phone never makes two customers."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from crm.errors import Conflict
from customers.models import Customer
from customers.services import customer_create

pytestmark = pytest.mark.django_db(transaction=True)


def _create(name, phone):
    try:
        return customer_create(actor=None, name=name, phone=phone).customer_no
    except Conflict:
        return "conflict"
    finally:
        connection.close()


def test_parallel_creation_gets_distinct_consecutive_numbers():
    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(lambda i: _create(f"客{i}", f"1380000{i:04d}"), range(40)))
    assert len(set(numbers)) == 40
    values = sorted(int(number[1:]) for number in numbers)
    assert values == list(range(values[0], values[0] + 40))


def test_parallel_creation_with_one_phone_makes_one_customer():
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: _create(f"客{i}", "13800138000"), range(16)))
    assert results.count("conflict") == 15
    assert Customer.objects.count() == 1
