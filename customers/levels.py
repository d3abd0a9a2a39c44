"""The tiers a customer's `level` may hold.

`Customer.level` stores a tier's code. The tiers themselves (names, order, rules) belong to the
membership app, which the core must not import (DESIGN.md), so membership registers a provider
here in its AppConfig.ready. Until it does (or if it is not installed), the four codes of the
spec (5.1 CustomerLevel) are the choices.
"""

from collections.abc import Callable

_provider: Callable[[], list[tuple[str, str]]] | None = None


def register_level_choices(provider: Callable[[], list[tuple[str, str]]]) -> None:
    """`provider()` returns [(code, label), ...] from the lowest tier to the highest."""
    global _provider
    _provider = provider


def level_choices() -> list[tuple[str, str]]:
    if _provider is None:
        from customers.models import CustomerLevel  # models imports this module

        return list(CustomerLevel.choices)
    return _provider()


def base_level() -> str:
    """The code of the lowest tier: where every new customer starts."""
    return level_choices()[0][0]
