"""The tier and points that demo and generated customers start with: a stand-in for membership's
rules, which the core cannot import (DESIGN.md). Level by lifetime spend at the default tiers'
upgrade thresholds (membership 0002_default_tiers), one point per yuan spent. `manage.py
membership_backfill`, which `make run` and `make bench` run after loading, then gives every
customer an opening points lot and the tier the real rules give."""

from customers.models import CustomerLevel

# (yuan spent, level), highest first.
LEVEL_THRESHOLDS = [
    (20000, CustomerLevel.SVIP),
    (5000, CustomerLevel.VIP),
    (1000, CustomerLevel.MEMBER),
    (0, CustomerLevel.REGULAR),
]


def level_for(total_spent_cents: int) -> str:
    for threshold, level in LEVEL_THRESHOLDS:
        if total_spent_cents >= threshold * 100:
            return level
    return CustomerLevel.REGULAR


def points_for(total_spent_cents: int) -> int:
    return total_spent_cents // 100
