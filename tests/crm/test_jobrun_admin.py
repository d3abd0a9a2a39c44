"""Job runs in the admin (read-only, for the roles that watch the nightly jobs), and the
schedules of django-celery-beat in our admin site, the nightly membership run among them."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from crm.models import JobRun

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/crm/jobrun/"


@pytest.fixture
def runs():
    started = timezone.now() - timedelta(hours=1)
    done = JobRun.objects.create(
        name="membership.nightly",
        status=JobRun.Status.DONE,
        counts={"memberships_expired": 3, "customers_changed": 12},
        started_at=started,
        finished_at=started + timedelta(seconds=42.5),
    )
    failed = JobRun.objects.create(
        name="segments.refresh",
        status=JobRun.Status.FAILED,
        error="OperationalError: the database went away",
        started_at=started + timedelta(minutes=5),
        finished_at=started + timedelta(minutes=6),
    )
    return done, failed


def listed(response):
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize("role", ["manager", "operations"])
def test_job_runs_are_listed_with_duration_counts_and_error(client, make_user, runs, role):
    client.force_login(make_user(role, roles=[role]))
    response = client.get(LIST_URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert "42.5 s" in page
    assert "customers_changed: 12, memberships_expired: 3" in page
    assert "OperationalError: the database went away" in page
    assert [run.name for run in listed(response)] == ["segments.refresh", "membership.nightly"]


def test_job_runs_filter_by_name_and_status(client, make_user, runs):
    client.force_login(make_user("ops", roles=["operations"]))
    by_name = listed(client.get(LIST_URL, {"name": "membership.nightly"}))
    assert [run.name for run in by_name] == ["membership.nightly"]
    by_status = listed(client.get(LIST_URL, {"status__exact": "failed"}))
    assert [run.name for run in by_status] == ["segments.refresh"]


def test_job_runs_are_read_only(client, make_user, runs):
    done, _failed = runs
    client.force_login(make_user("manager", roles=["manager"]))
    assert client.get(f"{LIST_URL}{done.pk}/change/").status_code == 200
    assert client.get(f"{LIST_URL}add/").status_code == 403
    assert client.post(f"{LIST_URL}{done.pk}/delete/", {"post": "yes"}).status_code == 403
    assert JobRun.objects.filter(pk=done.pk).exists()


@pytest.mark.parametrize("role", ["marketing", "customer_service", "finance"])
def test_job_runs_are_refused_to_other_roles(client, make_user, role):
    client.force_login(make_user(role, roles=[role]))
    assert client.get(LIST_URL).status_code == 403


def test_the_nightly_membership_schedule_is_editable_in_our_admin(client, make_user):
    task = PeriodicTask.objects.get(name="membership.nightly")
    client.force_login(make_user("boss", superuser=True))

    listing = client.get("/admin/django_celery_beat/periodictask/")
    assert listing.status_code == 200
    assert "membership.nightly" in listing.content.decode()
    change = client.get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/")
    assert change.status_code == 200
    assert change.context["adminform"].form.instance.task == "membership.nightly"
    assert client.get("/admin/django_celery_beat/crontabschedule/").status_code == 200
