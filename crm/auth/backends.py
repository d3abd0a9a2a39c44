"""The password backend: Django's ModelBackend behind the login lockout of crm.auth.lockout."""

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from crm.auth import lockout
from crm.request_context import client_ip, current_ip


class LoginLocked(PermissionDenied):
    def __init__(self, seconds: int):
        self.seconds = seconds
        super().__init__(_("Too many failed logins; try again later."))


class LockoutModelBackend(ModelBackend):
    """Refuses every password login for a locked username or IP, even a correct one.

    The refusal raises PermissionDenied, so `django.contrib.auth.authenticate` stops, returns None
    and sends `user_login_failed` (audited like any other failure). Failures are counted here;
    a success clears the counters.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        ip = client_ip(request) if request is not None else current_ip()
        seconds = lockout.locked_seconds(username=username, ip=ip)
        if seconds:
            raise LoginLocked(seconds)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            lockout.record_failure(username=username, ip=ip)
        else:
            lockout.clear(username=username, ip=ip)
        return user

    async def aauthenticate(self, request, username=None, password=None, **kwargs):
        # ModelBackend's async path would skip the lockout; run the one implementation above.
        return await sync_to_async(self.authenticate)(
            request, username=username, password=password, **kwargs
        )
