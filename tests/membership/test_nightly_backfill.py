"""membership_backfill: loaded data (demo, generator, imports) brought under the ledger and the
tier rules: one opening-balance lot per customer with points and no ledger, then every tier
evaluated; a second run changes nothing."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.i18n import in_default_language
from customers.models import Customer
from membership.models import LevelChange, PointsEntry, PointsKind, PointsPolicy, TierGrace
from membership.services.backfill import backfill_membership
from membership.services.points import adjust_points, expiry_date
from tests.membership.conftest import assert_ledger_consistent

pytestmark = pytest.mark.django_db


def loaded(make_customer, *, points=0, level="regular"):
    """A customer as the demo or the generator writes them: points and tier, no ledger."""
    customer = make_customer()
    Customer.objects.filter(pk=customer.pk).update(points=points, level=level)
    return customer


def test_points_without_a_ledger_get_one_opening_balance_lot(make_customer):
    customer = loaded(make_customer, points=500)
    today = timezone.localdate()

    result = backfill_membership(today=today)

    lot = PointsEntry.objects.get(customer=customer)
    assert (lot.delta, lot.kind, lot.balance_after, lot.remaining) == (
        500,
        PointsKind.ADJUST,
        500,
        500,
    )
    assert lot.expires_on == expiry_date(today, PointsPolicy.current().expiry_months)
    assert lot.reason == in_default_language(_("Opening balance"))
    assert (result.opening_lots, result.opening_points) == (1, 500)
    assert_ledger_consistent(customer.pk)


def test_points_that_never_expire_get_a_lot_without_expiry(make_customer):
    PointsPolicy.objects.filter(pk=1).update(expiry_months=None)
    customer = loaded(make_customer, points=80)

    backfill_membership()

    assert PointsEntry.objects.get(customer=customer).expires_on is None


def test_customers_without_points_or_with_a_ledger_get_no_lot(make_customer, make_user):
    none = loaded(make_customer, points=0)
    with_ledger = make_customer()
    adjust_points(customer_id=with_ledger.pk, adjustment=30, reason="Welcome", actor=make_user())

    result = backfill_membership()

    assert result.opening_lots == 0
    assert not PointsEntry.objects.filter(customer=none).exists()
    assert PointsEntry.objects.filter(customer=with_ledger).count() == 1


def test_a_second_run_changes_nothing(make_customer, place_order):
    customer = loaded(make_customer, points=500, level="svip")
    place_order(make_customer(), "5000")
    backfill_membership()
    entries, changes, graces = (
        PointsEntry.objects.count(),
        LevelChange.objects.count(),
        TierGrace.objects.count(),
    )

    again = backfill_membership()

    assert (again.opening_lots, again.evaluation.upgraded, again.evaluation.grace_started) == (
        0,
        0,
        0,
    )
    assert (PointsEntry.objects.count(), LevelChange.objects.count()) == (entries, changes)
    assert TierGrace.objects.count() == graces
    assert_ledger_consistent(customer.pk)


def test_every_tier_is_evaluated_by_the_rules_with_their_grace_period(make_customer, place_order):
    spender = make_customer()
    place_order(spender, "5000")
    idle_vip = loaded(make_customer, points=10, level="vip")
    today = timezone.localdate()

    result = backfill_membership(today=today)

    levels = dict(Customer.objects.values_list("pk", "level"))
    assert (levels[spender.pk], levels[idle_vip.pk]) == ("vip", "vip")
    assert TierGrace.objects.get(customer=idle_vip).grace_until == today + timedelta(days=30)
    assert (result.evaluation.upgraded, result.evaluation.grace_started) == (1, 1)


def test_the_command_runs_the_backfill_and_reports(make_customer, capsys):
    loaded(make_customer, points=120)

    call_command("membership_backfill")

    out = capsys.readouterr().out
    assert "opening balances: 1 customers, 120 points" in out
    assert PointsEntry.objects.count() == 1
