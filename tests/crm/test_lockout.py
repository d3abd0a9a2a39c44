"""Login brute-force protection: LOGIN_FAILURE_LIMIT failures lock a username or an IP."""

import pytest
from django.contrib.auth import authenticate
from django.test import RequestFactory
from django.utils import translation

from crm.auth import lockout
from crm.auth.forms import LockoutAdminAuthenticationForm
from crm.models import AuditEvent

pytestmark = pytest.mark.django_db

PASSWORD = "pass-1234-word"


def login(username, password, ip="10.0.0.1"):
    request = RequestFactory().post("/admin/login/", REMOTE_ADDR=ip)
    return authenticate(request, username=username, password=password)


def fail(times, username="waiter", ip="10.0.0.1"):
    for _ in range(times):
        assert login(username, "wrong", ip=ip) is None


def test_the_limit_of_failures_locks_the_username_even_for_the_right_password(
    make_user, login_limits
):
    user = make_user("waiter")
    fail(3)

    assert login("waiter", PASSWORD, ip="10.9.9.9") is None
    assert lockout.is_locked(username="waiter", ip=None)
    assert login_limits.LOGIN_FAILURE_LIMIT == 3
    assert user.is_active  # a lock is temporary, not a deactivation


def test_fewer_failures_than_the_limit_do_not_lock(make_user, login_limits):
    make_user("waiter")
    fail(2)

    assert login("waiter", PASSWORD) is not None


def test_a_success_clears_the_failures(make_user, login_limits):
    make_user("waiter")
    fail(2)
    assert login("waiter", PASSWORD) is not None

    fail(2)

    assert login("waiter", PASSWORD) is not None


def test_the_username_lock_ignores_case(make_user, login_limits):
    make_user("waiter")
    fail(3, username="WAITER")

    assert lockout.is_locked(username="waiter", ip=None)


def test_failures_from_one_ip_across_usernames_lock_that_ip(make_user, login_limits):
    make_user("waiter")
    for name in ["alice", "bob", "carol"]:
        fail(1, username=name, ip="203.0.113.7")

    assert login("waiter", PASSWORD, ip="203.0.113.7") is None
    assert login("waiter", PASSWORD, ip="198.51.100.1") is not None


def test_the_lock_lifts_when_the_window_has_passed(make_user, login_limits, monkeypatch):
    make_user("waiter")
    fail(3)
    now = lockout.time.time()

    monkeypatch.setattr(lockout.time, "time", lambda: now + 601)

    assert lockout.locked_seconds(username="waiter", ip="10.0.0.1") == 0


def test_refused_logins_while_locked_are_audited_as_failures(make_user, login_limits):
    make_user("waiter")
    fail(3)
    login("waiter", PASSWORD)

    failures = AuditEvent.objects.filter(action="login_failure").order_by("id")
    assert failures.count() == 4
    assert [event.summary["locked"] for event in failures] == [False, False, True, True]


def test_the_admin_login_form_says_how_long_to_wait(make_user, login_limits):
    make_user("waiter")
    fail(3)
    request = RequestFactory().post("/admin/login/", REMOTE_ADDR="10.0.0.1")

    form = LockoutAdminAuthenticationForm(
        request, data={"username": "waiter", "password": PASSWORD}
    )

    with translation.override("en"):
        assert not form.is_valid()
        assert form.non_field_errors() == ["Too many failed logins. Try again in 10 minutes."]


def test_the_admin_login_form_keeps_the_generic_message_before_the_lock(make_user, login_limits):
    make_user("waiter")
    request = RequestFactory().post("/admin/login/", REMOTE_ADDR="10.0.0.1")

    form = LockoutAdminAuthenticationForm(request, data={"username": "waiter", "password": "x"})

    assert not form.is_valid()
    assert form.non_field_errors().as_data()[0].code == "invalid_login"
