"""Login forms that say when a login is locked, instead of the generic "wrong password" message.

For the admin: `admin.site.login_form = LockoutAdminAuthenticationForm`.
"""

import math

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext

from crm.auth import lockout
from crm.request_context import client_ip


class LockoutMessageMixin:
    def get_invalid_login_error(self):
        username = self.cleaned_data.get("username")
        ip = client_ip(self.request) if self.request is not None else None
        seconds = lockout.locked_seconds(username=username, ip=ip)
        if not seconds:
            return super().get_invalid_login_error()
        minutes = math.ceil(seconds / 60)
        return ValidationError(
            ngettext(
                "Too many failed logins. Try again in %(minutes)d minute.",
                "Too many failed logins. Try again in %(minutes)d minutes.",
                minutes,
            ),
            code="login_locked",
            params={"minutes": minutes},
        )


class LockoutAuthenticationForm(LockoutMessageMixin, AuthenticationForm):
    pass


class LockoutAdminAuthenticationForm(LockoutMessageMixin, AdminAuthenticationForm):
    pass
