"""Hooks on orders and erasures: how other apps react to an order, or to a customer's erasure,
without the core importing them.

DESIGN.md lets membership and profiles import the core, never the reverse. So they register a
callable here, from their AppConfig.ready:

    from customers.hooks import register_order_hook

    register_order_hook("recording", link_points)    # fn(*, order, customer)
    register_order_hook("recorded", award_points)    # fn(*, order, customer)
    register_order_hook("refunded", reverse_points)  # fn(*, order, refund)

"recording" hooks run at once, inside the order's transaction, after the order is saved: one that
raises (a BusinessError, say) rejects the order, which is not recorded. They are for what must
agree with the order or not let it in (the points redeemed on it).

customers.services.orders calls every "recorded" and "refunded" function with
`transaction.on_commit`, so such a hook runs only after the order (or refund) is committed, never
for one that rolled back, and never for a repeated order that was already recorded. Hooks run in
registration order; such a hook that raises is logged and does not stop the others
(on_commit(robust=True)). A hook that needs its own transaction opens one.

Erasure hooks (`register_erasure_hook(fn)`, fn(*, customer)) run inside the erasure's
transaction (customers.services.archive.customer_erase), so that what another app keeps about the
person (their behaviour events, say) goes with the erasure or not at all.
"""

from collections.abc import Callable
from functools import partial
from typing import Literal

from django.db import transaction

OrderHookKind = Literal["recording", "recorded", "refunded"]

on_order_recording: list[Callable] = []
on_order_recorded: list[Callable] = []
on_order_refunded: list[Callable] = []

_HOOKS = {
    "recording": on_order_recording,
    "recorded": on_order_recorded,
    "refunded": on_order_refunded,
}


def register_order_hook(kind: OrderHookKind, fn: Callable) -> None:
    """Register `fn` for "recorded" or "refunded"; registering a function twice is a no-op."""
    if kind not in _HOOKS:
        raise ValueError(f"Unknown order hook {kind!r}; use one of {sorted(_HOOKS)}.")
    if fn not in _HOOKS[kind]:
        _HOOKS[kind].append(fn)


def run_now(kind: OrderHookKind, **kwargs) -> None:
    """Run every hook of `kind` with `kwargs` now; what one raises propagates."""
    for fn in list(_HOOKS[kind]):
        fn(**kwargs)


def run_on_commit(kind: OrderHookKind, **kwargs) -> None:
    """Schedule every hook of `kind` to run with `kwargs` once the current transaction commits."""
    for fn in list(_HOOKS[kind]):
        transaction.on_commit(partial(fn, **kwargs), robust=True)


on_customer_erasing: list[Callable] = []


def register_erasure_hook(fn: Callable) -> None:
    """Register `fn(*, customer)` to run when a customer's personal data are erased; registering
    a function twice is a no-op."""
    if fn not in on_customer_erasing:
        on_customer_erasing.append(fn)


def run_erasure_hooks(*, customer) -> None:
    """Run every erasure hook now, in the caller's transaction; what one raises propagates."""
    for fn in list(on_customer_erasing):
        fn(customer=customer)
