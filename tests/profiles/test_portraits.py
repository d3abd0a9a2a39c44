"""Portraits (spec 2.4.1-2.4.3, 2.4.5, 4.4): each figure on hand-built order and event histories,
manual override, the real-time refresh, the full and incremental rebuilds, and the API."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from crm.models import AuditEvent, JobRun
from customers.models import Address, Tag
from customers.services.orders import record_order, refund_order
from profiles.models import BehaviourEvent, CustomerProfile
from profiles.services.portraits import (
    age_band,
    portrait,
    portrait_annotate,
    rebuild_portraits,
    refresh_portraits,
)

pytestmark = pytest.mark.django_db

# A Monday.
MONDAY = date(2026, 11, 2)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment in the restaurants' time zone."""
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour, minute))


def order(customer, placed_at, amount, items=None, *, number=None, **extra):
    number = number or f"{customer.pk}-{placed_at:%Y%m%d%H%M%S}-{amount}"
    return record_order(
        actor=None,
        source="pos",
        external_id=number,
        placed_at=placed_at,
        amount=Decimal(amount),
        items=items or [{"dish": "米饭", "category": "主食", "quantity": 1, "price": amount}],
        customer_id=customer.pk,
        **extra,
    ).order


def event(customer, occurred_at, type="view", **fields):
    return BehaviourEvent.objects.create(
        customer_id=customer.pk,
        type=type,
        channel=fields.pop("channel", "mini_program"),
        device=fields.pop("device", "mobile"),
        occurred_at=occurred_at,
        **fields,
    )


def profile_of(customer) -> CustomerProfile:
    refresh_portraits([customer.pk])
    return CustomerProfile.objects.get(customer_id=customer.pk)


# --- consumption ---------------------------------------------------------------------------------


def test_a_customer_without_orders_or_events_has_an_empty_portrait(make_customer):
    profile = profile_of(make_customer())
    assert (profile.order_count, profile.total_spent, profile.frequency) == (0, 0, "none")
    assert (profile.price_range, profile.favourite_dishes, profile.peak_hours) == ("", [], [])
    assert (profile.occupation_inferred, profile.income_inferred) == ("", "")
    assert (profile.visit_count, profile.browsing_pattern, profile.device) == (0, [], "")


def test_spend_average_and_price_range_count_what_was_paid_and_kept(make_customer):
    customer = make_customer()
    order(customer, at(MONDAY, 12), "100.00", discount=Decimal("20.00"))  # paid 80
    refunded = order(customer, at(MONDAY, 19), "300.00")
    refund_order(order=refunded, amount=Decimal("300.00"), actor=None)  # does not count
    partly = order(customer, at(MONDAY + timedelta(days=1), 12), "100.00")
    refund_order(order=partly, amount=Decimal("40.00"), actor=None)  # kept 60
    profile = profile_of(customer)
    assert (profile.order_count, profile.total_spent) == (2, Decimal("140.00"))
    assert (profile.avg_order_value, profile.price_range) == (Decimal("70.00"), "50-100")


@pytest.mark.parametrize(
    ("gap_days", "orders", "label"),
    [
        (7, 4, "weekly"),
        (14, 3, "biweekly"),
        (30, 3, "monthly"),
        (90, 2, "quarterly"),
        (200, 2, "occasional"),
        (0, 1, "once"),
    ],
)
def test_frequency_is_the_mean_gap_between_first_and_last_order(
    make_customer, gap_days, orders, label
):
    customer = make_customer()
    for number in range(orders):
        order(customer, at(date(2025, 1, 6) + timedelta(days=gap_days * number), 12), "50.00")
    assert profile_of(customer).frequency == label


def test_favourites_are_ranked_by_quantity_with_ties_to_the_smaller_name(make_customer):
    customer = make_customer()
    order(
        customer,
        at(MONDAY, 12),
        "200.00",
        [
            {
                "dish": "水煮鱼",
                "category": "川菜",
                "quantity": 3,
                "price": "40.00",
                "tastes": ["辣"],
            },
            {
                "dish": "白切鸡",
                "category": "粤菜",
                "quantity": 1,
                "price": "50.00",
                "tastes": ["清淡"],
            },
            {
                "dish": "麻婆豆腐",
                "category": "川菜",
                "quantity": 1,
                "price": "30.00",
                "tastes": ["辣", "麻"],
            },
        ],
    )
    profile = profile_of(customer)
    assert profile.favourite_categories == ["川菜", "粤菜"]
    assert profile.favourite_dishes == ["水煮鱼", "白切鸡", "麻婆豆腐"]
    assert profile.favourite_tastes == ["辣", "清淡", "麻"]


def test_peak_hours_payments_and_order_channel_in_local_time(make_customer):
    customer = make_customer()
    for day in range(3):
        order(
            customer,
            at(MONDAY + timedelta(days=day), 12, 30),
            "60.00",
            payment_method="wechat_pay",
            channel="dine_in",
        )
    order(customer, at(MONDAY, 18, 5), "60.00", payment_method="alipay", channel="delivery")
    order(customer, at(MONDAY + timedelta(days=1), 18, 59), "60.00", payment_method="alipay")
    order(customer, at(MONDAY, 9), "60.00", payment_method="cash")
    profile = profile_of(customer)
    assert profile.peak_hours == ["12:00-13:00", "18:00-19:00"]
    assert profile.payment_preferences == ["wechat_pay", "alipay"]
    assert profile.preferred_order_channel == "dine_in"


def test_an_order_at_23_names_the_hour_until_midnight(make_customer):
    customer = make_customer()
    order(customer, at(MONDAY, 23, 30), "60.00")
    assert profile_of(customer).peak_hours == ["23:00-00:00"]


# --- inferred occupation and income ------------------------------------------------------------


def test_weekday_lunches_suggest_an_office_worker_more_surely_with_more_orders(make_customer):
    few, many = make_customer(name="甲"), make_customer(name="乙")
    for day in range(4):
        order(few, at(MONDAY + timedelta(days=day), 12), "45.00")
    for week in range(3):
        for day in range(5):
            order(many, at(MONDAY + timedelta(weeks=week, days=day), 12), "45.00")
    few_profile, many_profile = profile_of(few), profile_of(many)
    assert few_profile.occupation_inferred == many_profile.occupation_inferred == "white_collar"
    assert few_profile.occupation_confidence == Decimal("0.40")
    assert many_profile.occupation_confidence == Decimal("1.00")
    assert (few_profile.income_inferred, few_profile.income_confidence) == ("low", Decimal("0.40"))


def test_no_occupation_is_guessed_from_two_orders_or_mixed_habits(make_customer):
    two, mixed = make_customer(name="甲"), make_customer(name="乙")
    for day in range(2):
        order(two, at(MONDAY + timedelta(days=day), 12), "45.00")
    for hour in (9, 12, 16, 19):  # spread over the day, on a Monday: no sign reaches half
        order(mixed, at(MONDAY, hour), "120.00")
    assert profile_of(two).occupation_inferred == ""
    assert profile_of(mixed).occupation_inferred == ""
    assert profile_of(mixed).income_inferred == "middle"


def test_weekend_tables_suggest_a_family_and_late_cheap_meals_a_student(make_customer):
    family, student = make_customer(name="甲"), make_customer(name="乙")
    saturday = MONDAY + timedelta(days=5)
    for week in range(3):
        order(family, at(saturday + timedelta(weeks=week), 18), "320.00")
        order(student, at(MONDAY + timedelta(weeks=week), 22), "35.00")
    assert profile_of(family).occupation_inferred == "family"
    assert profile_of(family).income_inferred == "upper_middle"
    assert profile_of(student).occupation_inferred == "student"


def test_a_manual_value_wins_says_so_and_survives_the_rebuild(make_customer, manager):
    customer = make_customer()
    for day in range(4):
        order(customer, at(MONDAY + timedelta(days=day), 12), "45.00")
    portrait_annotate(customer=customer, actor=manager, changes={"occupation_manual": "freelance"})
    rebuild_portraits(full=True)
    facts = portrait(customer)
    assert facts["occupation"] == {"value": "freelance", "source": "manual"}
    assert facts["occupation_confidence"] == Decimal(1)
    assert facts["income"] == {"value": "low", "source": "inferred"}
    audit = AuditEvent.objects.get(action="update", object_type="profiles.customerprofile")
    assert audit.summary["after"] == {"occupation_manual": "freelance"}
    portrait_annotate(customer=customer, actor=manager, changes={"occupation_manual": ""})
    assert portrait(customer)["occupation"] == {"value": "white_collar", "source": "inferred"}


# --- basic -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birthday", "band"),
    [
        (None, None),
        (date(2010, 1, 1), "<20"),
        (date(1996, 12, 2), "30-40"),
        (date(1996, 12, 3), "20-30"),
        (date(1950, 5, 5), "60+"),
    ],
)
def test_age_band_on_the_day(birthday, band):
    assert age_band(birthday, date(2026, 12, 2)) == band


def test_location_is_the_default_address_city_else_the_newest(make_customer):
    customer = make_customer()
    assert portrait(customer)["location"] is None
    Address.objects.create(
        customer=customer,
        province="广东",
        city="广州",
        recipient="甲",
        phone="13800138000",
        detail="一号",
    )
    Address.objects.create(
        customer=customer,
        province="北京",
        city="北京",
        recipient="甲",
        phone="13800138000",
        detail="二号",
        is_default=True,
    )
    assert portrait(customer)["location"] == "北京"


# --- the period comparison ---------------------------------------------------------------------


def test_the_comparison_counts_the_period_the_one_before_and_last_years(make_customer):
    customer = make_customer()
    today = date(2026, 12, 2)
    order(customer, at(today, 12), "100.00")  # current (7 days: 11-26 .. 12-02)
    order(customer, at(date(2026, 11, 26), 0, 1), "50.00")  # current, first minute
    order(customer, at(date(2026, 11, 25), 23, 59), "30.00")  # previous period
    order(customer, at(date(2025, 11, 30), 12), "80.00")  # same period last year
    order(customer, at(date(2025, 11, 20), 12), "999.00")  # none of them
    comparison = portrait(customer, days=7, today=today)["comparison"]
    assert comparison["current"]["start"] == date(2026, 11, 26)
    assert (comparison["current"]["orders"], comparison["current"]["spent"]) == (
        2,
        Decimal("150.00"),
    )
    assert comparison["previous_period"]["spent"] == Decimal("30.00")
    assert comparison["same_period_last_year"]["orders"] == 1
    assert comparison["same_period_last_year"]["spent"] == Decimal("80.00")


# --- behaviour ---------------------------------------------------------------------------------


def test_behaviour_from_events(make_customer):
    customer = make_customer()
    saturday = MONDAY + timedelta(days=5)
    event(
        customer,
        at(saturday, 12),
        session_id="s1",
        duration_seconds=60,
        dish="水煮鱼",
        category="川菜",
    )
    event(
        customer,
        at(saturday, 12, 5),
        session_id="s1",
        duration_seconds=30,
        dish="水煮鱼",
        category="川菜",
    )
    event(
        customer,
        at(saturday, 13),
        session_id="s2",
        duration_seconds=90,
        dish="白切鸡",
        category="粤菜",
        channel="app",
    )
    event(customer, at(saturday + timedelta(days=1), 20), type="review", device="unknown")
    event(customer, at(MONDAY, 20), type="share", device="pc")
    event(customer, at(MONDAY, 20), type="favourite", channel="web", device="pc")
    profile = profile_of(customer)
    assert (profile.visit_count, profile.total_duration_seconds) == (5, 180)
    assert profile.avg_session_seconds == 36
    assert profile.browsed_categories == ["川菜", "粤菜"]
    assert profile.browsed_dishes == ["水煮鱼", "白切鸡"]
    assert (profile.reviews, profile.shares, profile.favourites) == (1, 1, 1)
    assert profile.preferred_channel == "mini_program"
    assert profile.device == "mobile"  # 3 against 2 pc; unknown is left out
    assert profile.browsing_pattern == ["evening", "lunchtime", "weekend"]


# --- updates -----------------------------------------------------------------------------------


def test_an_order_refreshes_the_portrait_once_committed(
    make_customer, django_capture_on_commit_callbacks
):
    customer = make_customer()
    profile_of(customer)
    with django_capture_on_commit_callbacks(execute=True):
        order(customer, at(MONDAY, 12), "88.00")
    profile = CustomerProfile.objects.get(customer_id=customer.pk)
    assert (profile.order_count, profile.favourite_dishes) == (1, ["米饭"])


def test_recorded_events_refresh_the_behaviour_portrait(
    api_client, make_customer, make_user, django_capture_on_commit_callbacks
):
    customer = make_customer()
    client = api_client(make_user("pos", roles=["operations"]))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/events",
            {
                "events": [
                    {
                        "customerId": customer.pk,
                        "type": "share",
                        "channel": "app",
                        "timestamp": timezone.now().isoformat(),
                    }
                ]
            },
            format="json",
        )
    assert response.status_code == 200
    assert CustomerProfile.objects.get(customer_id=customer.pk).shares == 1


def test_the_incremental_rebuild_touches_only_customers_with_new_orders_or_events(make_customer):
    quiet, buyer, browser = (make_customer(name=name) for name in "甲乙丙")
    first = rebuild_portraits()
    assert first.counts["type"] == "full" and first.counts["customers"] >= 3
    # Changed behind the hooks' back (as an import might), then rebuilt incrementally.
    order(buyer, at(MONDAY, 12), "60.00")
    event(browser, timezone.now() - timedelta(hours=1), type="share")
    CustomerProfile.objects.filter(customer_id=buyer.pk).update(order_count=0)
    CustomerProfile.objects.filter(customer_id=quiet.pk).update(order_count=99)  # left alone
    second = rebuild_portraits()
    assert second.name == "profiles.rebuild_profiles"
    assert second.counts["type"] == "incremental"
    assert (second.counts["customers"], second.counts["updated"]) == (2, 2)
    assert CustomerProfile.objects.get(customer_id=buyer.pk).order_count == 1
    assert CustomerProfile.objects.get(customer_id=browser.pk).shares == 1
    assert CustomerProfile.objects.get(customer_id=quiet.pk).order_count == 99
    assert rebuild_portraits().counts["updated"] == 0  # nothing new: nothing written


def test_a_full_rebuild_rewrites_only_what_changed_and_logs_the_run(make_customer):
    customers = [make_customer(name=f"客{n}") for n in range(5)]
    order(customers[0], at(MONDAY, 12), "60.00")
    first = rebuild_portraits(full=True, batch_size=2)
    assert first.counts["batches"] >= 3 and first.counts["updated"] == first.counts["customers"]
    again = rebuild_portraits(full=True, batch_size=2)
    assert again.counts["updated"] == 0 and again.status == JobRun.Status.DONE


def test_the_rebuilds_are_scheduled_and_have_a_command(make_customer):
    tasks = {
        task.name: task for task in PeriodicTask.objects.filter(name__startswith="profiles.rebuild")
    }
    assert (
        tasks["profiles.rebuild_profiles"].crontab.hour,
        tasks["profiles.rebuild_profiles"].crontab.day_of_month,
    ) == ("2", "*")
    assert tasks["profiles.rebuild_profiles_full"].crontab.day_of_month == "1"
    make_customer()
    call_command("rebuild_profiles", "--full")
    assert JobRun.objects.get().name == "profiles.rebuild_profiles_full"
    call_command("rebuild_profiles")
    assert JobRun.objects.order_by("-id").first().counts["type"] == "incremental"


def test_an_erasure_deletes_the_portrait(make_customer, manager):
    from customers.services.archive import customer_erase

    customer = make_customer()
    profile_of(customer)
    customer_erase(customer=customer, actor=manager, reason="请求删除")
    assert not CustomerProfile.objects.filter(customer_id=customer.pk).exists()
    rebuild_portraits(full=True)
    assert not CustomerProfile.objects.filter(customer_id=customer.pk).exists()


# --- the API -----------------------------------------------------------------------------------


def test_the_profile_api_has_the_shape_of_spec_4_4(
    api_client, make_customer, marketer, django_assert_max_num_queries
):
    customer = make_customer(gender="male", birthday=date(1990, 1, 1))
    today = timezone.localdate()
    last_monday = today - timedelta(days=today.weekday() + 7)  # last week's weekdays: all past
    for day in range(5):
        order(customer, at(last_monday + timedelta(days=day), 12), "150.00")
    tag = Tag.objects.create(name="美食爱好者", weight=90)
    customer.tags.add(tag)
    refresh_portraits([customer.pk])  # as the order hook does once the order is committed
    # Authentication and permissions, the customer, its portrait, its address, the comparison,
    # the tags, the access log.
    with django_assert_max_num_queries(10):
        response = api_client(marketer).get(f"/api/v1/customers/{customer.pk}/profile")
    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) >= {"basicProfile", "consumptionProfile", "behaviorProfile", "tags"}
    assert data["basicProfile"]["gender"] == "male"
    assert data["basicProfile"]["age"] == "30-40"
    assert data["basicProfile"]["occupation"] == "white_collar"
    assert data["basicProfile"]["occupationSource"] == "inferred"
    consumption = data["consumptionProfile"]
    assert (consumption["avgOrderValue"], consumption["frequency"]) == (150.0, "weekly")
    assert consumption["priceRange"] == "100-200"
    assert consumption["favoriteCategories"] == ["主食"]
    assert data["behaviorProfile"]["peakHours"] == ["12:00-13:00"]
    assert data["tags"] == ["美食爱好者"]
    comparison = data["consumptionProfile"]["comparison"]
    assert set(comparison) == {"days", "current", "previousPeriod", "samePeriodLastYear"}
    assert (comparison["current"]["orders"], comparison["current"]["spent"]) == (5, 750.0)
    assert comparison["previousPeriod"]["orders"] == 0
    assert data["basicProfile"]["incomeConfidence"] == 0.5


def test_the_profile_api_checks_permissions_days_and_the_customer(
    api_client, make_customer, make_user, marketer
):
    customer = make_customer()
    finance = make_user("money", roles=["finance"])
    assert api_client(finance).get(f"/api/v1/customers/{customer.pk}/profile").status_code == 403
    bad = api_client(marketer).get(f"/api/v1/customers/{customer.pk}/profile", {"days": 0})
    assert bad.status_code == 400 and "days" in bad.json()["error"]["fields"]
    assert api_client(marketer).get("/api/v1/customers/999999/profile").status_code == 404


def test_staff_set_the_occupation_through_the_api(api_client, make_customer, marketer):
    customer = make_customer()
    url = f"/api/v1/customers/{customer.pk}/profile"
    response = api_client(marketer).patch(url, {"occupation": "business"}, format="json")
    assert response.status_code == 200
    assert response.json()["data"]["basicProfile"]["occupationSource"] == "manual"
    empty = api_client(marketer).patch(url, {}, format="json")
    assert empty.status_code == 400
    wrong = api_client(marketer).patch(url, {"income": "rich"}, format="json")
    assert "income" in wrong.json()["error"]["fields"]


def test_the_demo_loads_events_and_portraits_once(make_customer):
    from profiles.demo import load_demo_portraits

    customers = [make_customer(name=f"客{n}") for n in range(6)]
    order(customers[0], at(MONDAY, 12), "60.00")
    first = load_demo_portraits()
    assert first["events"] > 0 and first["portraits"] == 6
    assert BehaviourEvent.objects.values("customer_id").distinct().count() == 2  # one in three
    assert load_demo_portraits() == {"events": 0, "portraits": 0}
