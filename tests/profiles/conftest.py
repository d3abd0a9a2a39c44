"""Fixtures for the profiles tests."""

from tests.customers.conftest import make_customer  # noqa: F401  (the same fixture here)
