"""Segments (spec 2.3.2, 4.3): saved conditions, stored members refreshed set-based with
snapshots, scopes, the customer list's `segment` filter, the RFM fields, and the nightly run."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from crm.errors import BusinessError, Conflict
from crm.models import AuditEvent, JobRun
from customers.conditions import InvalidCondition
from customers.models import Customer, CustomerStatus
from customers.services import customer_create
from segments.models import Segment, SegmentMember, SegmentSnapshot
from segments.services import segments as services
from segments.services.nightly import run_nightly
from tests.customers.conftest import next_phone
from tests.segments.conftest import order_on
from tests.segments.test_rfm import run_rfm

pytestmark = pytest.mark.django_db

BIG_SPENDERS = {"totalSpent": {"gte": 1000}}


def members(segment) -> set[int]:
    return set(SegmentMember.objects.filter(segment=segment).values_list("customer_id", flat=True))


def spend(customer, amount):
    Customer.objects.filter(pk=customer.pk).update(total_spent=Decimal(amount))


@pytest.fixture
def customers():
    made = [customer_create(actor=None, name=f"客户{n}", phone=next_phone()) for n in range(4)]
    for customer, amount in zip(made, ["50", "1000", "2500", "999.99"], strict=True):
        spend(customer, amount)
    return made


@pytest.fixture
def create(make_user, django_capture_on_commit_callbacks):
    """segment_create as the API calls it, with the refresh that follows on commit."""
    actor = make_user("marketer", roles=["marketing"])

    def make(name="大客户", condition=BIG_SPENDERS, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return services.segment_create(actor=actor, name=name, condition=condition, **extra)

    return make


def test_a_new_segment_is_counted_and_its_members_stored_on_commit(customers, create):
    segment = create()

    assert segment.customer_count == 2
    assert members(segment) == {customers[1].pk, customers[2].pk}
    snapshot = SegmentSnapshot.objects.get(segment=segment)
    assert (snapshot.count, snapshot.added, snapshot.removed) == (2, 2, 0)
    assert segment.condition == {
        "logicalOperator": "and",
        "conditions": [{"field": "totalSpent", "operator": "gte", "value": 1000}],
    }
    assert (
        AuditEvent.objects.filter(
            action="create", object_type="segments.segment", object_id=str(segment.pk)
        ).count()
        == 1
    )


def test_a_refresh_replaces_the_members_and_records_who_joined_and_left(customers, create):
    segment = create()
    spend(customers[1], "10")  # leaves
    spend(customers[3], "5000")  # joins
    Customer.objects.filter(pk=customers[2].pk).update(status=CustomerStatus.ARCHIVED)  # leaves

    refreshed = services.segment_refresh(segment_id=segment.pk)

    assert (refreshed.count, refreshed.added, refreshed.removed) == (1, 1, 2)
    assert members(segment) == {customers[3].pk}
    segment.refresh_from_db()
    assert segment.customer_count == 1 and segment.refreshed_at is not None
    again = services.segment_refresh(segment_id=segment.pk)
    assert (again.count, again.added, again.removed) == (1, 0, 0)
    assert SegmentSnapshot.objects.filter(segment=segment).count() == 3


def test_a_segment_within_another_holds_only_customers_of_both(customers, create):
    big = create()
    Customer.objects.filter(pk=customers[2].pk).update(gender="female")

    women = create(name="女性大客户", condition={"gender": {"eq": "female"}}, scope=big)

    assert members(women) == {customers[2].pk}


def test_a_segment_may_not_be_within_itself(customers, create, make_user):
    outer = create()
    inner = create(name="内", condition={"orderCount": {"gte": 0}}, scope=outer)

    with pytest.raises(BusinessError) as refused:
        services.segment_update(segment=outer, actor=make_user(), changes={"scope": inner})
    assert "scopeId" in refused.value.fields


def test_names_are_unique(customers, create):
    create()

    with pytest.raises(Conflict) as refused:
        create(condition={"points": {"gte": 1}})
    assert "name" in refused.value.fields


def test_a_changed_condition_is_counted_refreshed_and_kept_in_history(
    customers, create, make_user, django_capture_on_commit_callbacks
):
    segment = create()

    with django_capture_on_commit_callbacks(execute=True):
        services.segment_update(
            segment=segment, actor=make_user(), changes={"condition": {"totalSpent": {"gte": 2000}}}
        )

    segment.refresh_from_db()
    assert segment.customer_count == 1 and members(segment) == {customers[2].pk}
    assert segment.history.count() == 2
    assert segment.history.first().condition["conditions"][0]["value"] == 2000


def test_deleting_removes_members_and_is_refused_while_others_are_within(
    customers, create, make_user
):
    outer = create()
    inner = create(name="内", condition={"orderCount": {"gte": 0}}, scope=outer)

    manager = make_user("boss", roles=["manager"])
    with pytest.raises(Conflict):
        services.segment_delete(segment=outer, actor=manager)
    services.segment_delete(segment=inner, actor=manager)
    services.segment_delete(segment=outer, actor=manager)

    assert not Segment.objects.exists()
    assert not SegmentMember.objects.exists()


def test_a_bad_condition_is_refused_and_nothing_saved(customers, create):
    with pytest.raises(InvalidCondition):
        create(condition={"totalSpent": {"contains": "x"}})

    assert not Segment.objects.exists()


def test_the_preview_counts_and_samples_an_unsaved_condition(customers):
    preview = services.segment_preview(condition=BIG_SPENDERS)

    assert preview.count == 2
    assert [c.pk for c in preview.sample] == [customers[2].pk, customers[1].pk]


def test_rfm_fields_read_the_latest_run(shop):
    run_rfm(tiers=3)

    best = services.condition_customers({"rfmTier": {"eq": 1}})
    assert {c.pk for c in best} == {shop["a"].pk, shop["c"].pk}
    keep = services.condition_customers({"rfmClass": {"eq": "important_keep"}})
    assert {c.pk for c in keep} == {shop["c"].pk}
    not_first = services.condition_customers({"rfmTier": {"ne": 1}})
    # Customers without a score are not in tier 1 either.
    assert shop["g"].pk in {c.pk for c in not_first}


def test_rfm_fields_match_nobody_before_any_run(customers):
    assert services.condition_customers({"rfmTier": {"gte": 1}}).count() == 0


def test_the_portrait_describes_the_members(customers, create):
    Customer.objects.filter(pk=customers[1].pk).update(level="vip", gender="male")
    Customer.objects.filter(pk=customers[2].pk).update(
        level="vip", gender="female", birthday=date(1990, 6, 1)
    )
    order_on(customers[2], date.today() - timedelta(days=3), "88")

    segment = create()

    stats = SegmentSnapshot.objects.get(segment=segment).stats
    assert stats["count"] == 2
    assert stats["levels"] == {"vip": 2}
    assert stats["genders"] == {"male": 1, "female": 1}
    bands = {row["band"]: row["count"] for row in stats["ageBands"]}
    assert bands["unknown"] == 1 and bands["36-45"] == 1 and sum(bands.values()) == 2
    assert [row["band"] for row in stats["ageBands"]][:2] == ["0-17", "18-25"]
    assert stats["channels"] == {"other": 1}
    assert stats["topCategories"] == [{"category": "川菜", "quantity": 1}]
    # Spend as stored on the customers; customer 2's order added its 88.
    assert stats["avgSpend"] == "1794.00"
    assert stats["activeShare"] == 0.5


def test_the_nightly_run_scores_rfm_refreshes_every_segment_and_is_scheduled(customers, create):
    segment = create()
    for customer in customers:
        order_on(customer, date.today() - timedelta(days=2), "10")

    counts = run_nightly()

    assert counts["rfm_scored"] == 4 and counts["segments"] == 1 and counts["failed"] == 0
    assert SegmentSnapshot.objects.filter(segment=segment).count() == 2
    assert JobRun.objects.filter(name="segments.refresh", status="done").exists()
    assert PeriodicTask.objects.get(name="segments.nightly").task == "segments.nightly"


def test_the_commands_run_the_same_services(customers, create, capsys):
    segment = create()

    call_command("refresh_segments", segment=segment.pk)
    call_command("rfm_run", "--start=2025-01-01", "--end=2025-12-31", "--tiers=3")

    assert SegmentSnapshot.objects.filter(segment=segment).count() == 2
    assert "RFM run" in capsys.readouterr().out
