"""The tier rules (spec 2.2.3) at the edge of every condition: `decide` is pure, so each rule is
tested here directly; test_tiers_evaluate.py checks that evaluate_levels feeds it the right
figures and writes what it decides."""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from membership.services.tiers import LIFETIME, Figures, Outcome, Standing, TierRule, decide

TODAY = date(2026, 3, 15)
YEAR = 365


def rule(code, rank, *, match="any", window=YEAR, spent=None, orders=None, points=None, **extra):
    fields = {
        "retain_min_spent": None,
        "retain_min_orders": None,
        "grace_days": 30,
        "downgrade_to": None,
    }
    fields.update(extra)
    return TierRule(
        code=code,
        rank=rank,
        match=match,
        window_days=window,
        min_spent=None if spent is None else Decimal(spent),
        min_orders=orders,
        min_points=points,
        **fields,
    )


def standing(level="regular", *, spent="0", orders=0, points=0, window=YEAR, **extra):
    figures = Figures(
        points=points,
        spent={window: Decimal(spent), LIFETIME: Decimal(spent)},
        orders={window: orders, LIFETIME: orders},
    )
    return Standing(customer_id=1, level=level, figures=figures, **extra)


# The default tiers of migration 0002.
DEFAULTS = [
    rule("regular", 0, grace_days=0),
    rule("member", 1, spent="1000", orders=10, retain_min_spent=Decimal("500")),
    rule("vip", 2, spent="5000", orders=30, retain_min_spent=Decimal("3000")),
    rule("svip", 3, spent="20000", orders=80, retain_min_spent=Decimal("12000"), grace_days=60),
]


def nightly(rules, who, today=TODAY):
    return decide(rules, who, today=today, allow_downgrade=True)


# --- upgrade conditions -----------------------------------------------------------------------


def test_spend_exactly_at_the_threshold_reaches_the_tier():
    assert nightly(DEFAULTS, standing(spent="1000.00")).level == "member"


def test_spend_one_cent_below_the_threshold_does_not():
    assert nightly(DEFAULTS, standing(spent="999.99")).level == "regular"


def test_orders_exactly_at_the_threshold_reach_the_tier_and_one_fewer_does_not():
    assert nightly(DEFAULTS, standing(orders=10)).level == "member"
    assert nightly(DEFAULTS, standing(orders=9)).level == "regular"


def test_points_exactly_at_the_threshold_reach_the_tier_and_one_fewer_does_not():
    rules = [rule("regular", 0), rule("gold", 1, points=500)]

    assert nightly(rules, standing(points=500)).level == "gold"
    assert nightly(rules, standing(points=499)).level == "regular"


def test_any_needs_one_condition_all_needs_every_one():
    any_rules = [rule("regular", 0), rule("gold", 1, spent="1000", orders=10, points=100)]
    all_rules = [rule("regular", 0), rule("gold", 1, match="all", spent="1000", orders=10)]

    assert nightly(any_rules, standing(orders=10)).level == "gold"
    assert nightly(all_rules, standing(orders=10)).level == "regular"
    assert nightly(all_rules, standing(spent="999.99", orders=10)).level == "regular"
    assert nightly(all_rules, standing(spent="1000", orders=10)).level == "gold"


def test_each_tier_reads_the_figures_of_its_own_window():
    rules = [rule("regular", 0), rule("gold", 1, window=90, spent="1000")]
    figures = Figures(
        points=0,
        spent={90: Decimal("999"), YEAR: Decimal("5000"), LIFETIME: Decimal("9000")},
        orders={90: 0, YEAR: 0, LIFETIME: 0},
    )
    who = Standing(customer_id=1, level="regular", figures=figures)

    enough = replace(who, figures=replace(figures, spent={90: Decimal(1000)}))

    assert nightly(rules, who).level == "regular"
    assert nightly(rules, enough).level == "gold"


def test_an_upgrade_skips_the_tiers_in_between():
    decision = nightly(DEFAULTS, standing(spent="20000"))

    assert (decision.level, decision.outcome) == ("svip", Outcome.UPGRADE)


def test_an_upgrade_ends_a_running_grace_period():
    who = standing("member", spent="5000", grace_until=TODAY + timedelta(days=3))

    assert nightly(DEFAULTS, who).grace_until is None


# --- retention, grace period, downgrade --------------------------------------------------------


def test_retention_keeps_the_tier_without_a_grace_period():
    decision = nightly(DEFAULTS, standing("vip", spent="3000"))

    assert (decision.level, decision.grace_until, decision.outcome) == (
        "vip",
        None,
        Outcome.UNCHANGED,
    )


def test_failed_retention_starts_the_grace_period_and_keeps_the_tier():
    decision = nightly(DEFAULTS, standing("vip", spent="2999.99"))

    assert decision.level == "vip"
    assert decision.grace_until == TODAY + timedelta(days=30)
    assert decision.outcome == Outcome.GRACE_STARTED


def test_the_tier_is_kept_through_the_last_day_of_the_grace_period():
    decision = nightly(DEFAULTS, standing("vip", spent="1000", grace_until=TODAY))

    assert (decision.level, decision.grace_until) == ("vip", TODAY)


def test_the_day_after_the_grace_period_the_customer_goes_to_the_earned_tier():
    who = standing("vip", spent="1000", grace_until=TODAY - timedelta(days=1))

    decision = nightly(DEFAULTS, who)

    assert (decision.level, decision.grace_until, decision.outcome) == (
        "member",
        None,
        Outcome.DOWNGRADE,
    )


def test_retention_met_again_during_the_grace_period_ends_it():
    who = standing("vip", spent="3000", grace_until=TODAY + timedelta(days=10))

    assert nightly(DEFAULTS, who) == nightly(DEFAULTS, standing("vip", spent="3000"))
    assert nightly(DEFAULTS, who).grace_until is None


def test_without_retention_thresholds_the_upgrade_conditions_keep_the_tier():
    rules = [rule("regular", 0), rule("gold", 1, orders=10)]

    assert nightly(rules, standing("gold", orders=10)).grace_until is None
    assert nightly(rules, standing("gold", orders=9)).grace_until == TODAY + timedelta(days=30)


def test_retention_thresholds_follow_any_and_all():
    def gold(match):
        return [
            rule("regular", 0),
            rule(
                "gold",
                1,
                match=match,
                spent="1000",
                retain_min_spent=Decimal("500"),
                retain_min_orders=5,
            ),
        ]

    only_spend = standing("gold", spent="500", orders=4)

    assert nightly(gold("any"), only_spend).grace_until is None
    assert nightly(gold("all"), only_spend).grace_until == TODAY + timedelta(days=30)


def test_without_a_grace_period_the_downgrade_is_immediate():
    rules = [rule("regular", 0), rule("gold", 1, spent="1000", grace_days=0)]

    decision = nightly(rules, standing("gold", spent="999"))

    assert (decision.level, decision.outcome) == ("regular", Outcome.DOWNGRADE)


def test_a_downgrade_goes_to_the_target_when_it_is_above_the_earned_tier():
    rules = [*DEFAULTS[:3], replace(DEFAULTS[3], downgrade_to="vip")]
    who = standing("svip", spent="0", grace_until=TODAY - timedelta(days=1))

    assert nightly(rules, who).level == "vip"


def test_a_downgrade_never_goes_below_the_earned_tier():
    rules = [*DEFAULTS[:3], replace(DEFAULTS[3], downgrade_to="member")]
    who = standing("svip", spent="6000", grace_until=TODAY - timedelta(days=1))

    assert nightly(rules, who).level == "vip"


def test_a_downgrade_target_at_or_above_the_tier_itself_is_ignored():
    # A target that is no downgrade (a misconfigured tier) must not keep or raise the customer.
    rules = [*DEFAULTS[:2], replace(DEFAULTS[2], downgrade_to="svip"), DEFAULTS[3]]
    who = standing("vip", spent="1000", grace_until=TODAY - timedelta(days=1))

    assert nightly(rules, who).level == "member"


def test_after_an_order_nothing_goes_down_and_no_grace_period_starts():
    decision = decide(DEFAULTS, standing("vip", spent="0"), today=TODAY, allow_downgrade=False)

    assert (decision.level, decision.grace_until) == ("vip", None)


def test_after_an_order_a_running_grace_period_is_kept_until_retention_holds():
    grace = TODAY - timedelta(days=5)
    failing = standing("vip", spent="1000", grace_until=grace)
    holding = standing("vip", spent="3000", grace_until=grace)

    assert decide(DEFAULTS, failing, today=TODAY, allow_downgrade=False).grace_until == grace
    assert decide(DEFAULTS, holding, today=TODAY, allow_downgrade=False).grace_until is None


def test_after_an_order_an_upgrade_takes_effect_at_once():
    decision = decide(DEFAULTS, standing(spent="5000"), today=TODAY, allow_downgrade=False)

    assert decision.level == "vip"


# --- memberships: a floor ----------------------------------------------------------------------


def test_a_membership_raises_the_customer_to_its_tier():
    decision = nightly(DEFAULTS, standing("regular", membership_level="vip"))

    assert (decision.level, decision.outcome) == ("vip", Outcome.MEMBERSHIP)


def test_no_grace_period_runs_while_a_membership_holds_the_tier():
    who = standing("vip", membership_level="vip", grace_until=TODAY - timedelta(days=1))

    decision = nightly(DEFAULTS, who)

    assert (decision.level, decision.grace_until) == ("vip", None)


def test_an_upgrade_above_the_membership_still_happens():
    decision = nightly(DEFAULTS, standing("vip", spent="20000", membership_level="vip"))

    assert (decision.level, decision.outcome) == ("svip", Outcome.UPGRADE)


def test_a_downgrade_stops_at_the_membership_tier():
    who = standing("svip", membership_level="member", grace_until=TODAY - timedelta(days=1))

    decision = nightly(DEFAULTS, who)

    assert (decision.level, decision.outcome) == ("member", Outcome.MEMBERSHIP)


def test_above_its_membership_a_customer_gets_a_grace_period_as_anyone():
    decision = nightly(DEFAULTS, standing("svip", membership_level="member"))

    assert (decision.level, decision.grace_until) == ("svip", TODAY + timedelta(days=60))


# --- tiers that no longer exist ------------------------------------------------------------------


def test_a_customer_in_a_tier_that_no_longer_exists_goes_to_the_tier_they_earn():
    decision = nightly(DEFAULTS, standing("gold", spent="1000"))

    assert (decision.level, decision.outcome) == ("member", Outcome.UPGRADE)


def test_a_customer_in_a_tier_that_no_longer_exists_earning_nothing_goes_to_the_base_tier():
    decision = nightly(DEFAULTS, standing("gold"))

    assert (decision.level, decision.outcome) == ("regular", Outcome.UNKNOWN_TIER)
