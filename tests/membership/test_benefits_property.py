"""The best of an exclusive group, as a property: whatever benefits share a group and whatever
the order's amount, the one that applies is worth the most to the guest (benefit_worth), of
those the highest figure, of those the first in the tier's order."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from membership.models import Benefit, BenefitKind, PointsPolicy
from membership.services.benefits import benefit_worth, best_of_group

POLICY = PointsPolicy(earn_per_yuan=Decimal(1), points_per_yuan_redeemed=100)

CENTS = st.integers(0, 100_000).map(lambda cents: Decimal(cents) / 100)
VALUES = {
    BenefitKind.DISCOUNT: st.integers(0, 100).map(Decimal),
    BenefitKind.AMOUNT_OFF: CENTS,
    BenefitKind.POINTS_MULTIPLIER: st.integers(100, 300).map(lambda f: Decimal(f) / 100),
    BenefitKind.GIFT: st.sampled_from([Decimal(0), Decimal(18), Decimal(38)]),
}
GROUPS = st.lists(
    st.sampled_from(list(VALUES)).flatmap(
        lambda kind: VALUES[kind].map(lambda value: (kind, value))
    ),
    min_size=1,
    max_size=8,
)


def in_tier_order(pairs) -> list[Benefit]:
    return [
        Benefit(pk=pk, kind=kind, value=value, sort_order=0, exclusive_group="offer")
        for pk, (kind, value) in enumerate(pairs, start=1)
    ]


@given(GROUPS, CENTS)
def test_the_benefit_that_applies_is_worth_the_most(pairs, amount):
    benefits = in_tier_order(pairs)

    chosen = best_of_group(benefits, amount, lambda: POLICY)

    def worth(benefit):
        return benefit_worth(benefit, amount, lambda: POLICY)

    assert all(worth(chosen) >= worth(other) for other in benefits)
    as_good = [b for b in benefits if worth(b) == worth(chosen)]
    assert all(chosen.value >= other.value for other in as_good)
    tied = [b for b in as_good if b.value == chosen.value]
    assert chosen is tied[0]


@given(GROUPS.flatmap(lambda pairs: st.tuples(st.just(pairs), st.permutations(pairs))), CENTS)
def test_the_tiers_order_decides_only_between_equals(pairs_and_reordered, amount):
    pairs, reordered = pairs_and_reordered

    def best(benefits):
        chosen = best_of_group(benefits, amount, lambda: POLICY)
        return benefit_worth(chosen, amount, lambda: POLICY), chosen.value

    assert best(in_tier_order(pairs)) == best(in_tier_order(reordered))
