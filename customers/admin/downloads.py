"""Sending an export's or an import's file from the admin (customers.services.files)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect

from crm.errors import NotAllowed, NotFound
from crm.file_vault import file_response
from customers.services.files import FileExpired


def send_file(request, download, *, back: str):
    """The file `download()` gives `request.user`; an expired one sends the user `back` with the
    reason, as a page of its own would say less."""
    try:
        return file_response(download())
    except NotAllowed:
        raise PermissionDenied from None
    except NotFound:
        raise Http404 from None
    except FileExpired as error:
        messages.error(request, str(error.message))
        return redirect(back)
