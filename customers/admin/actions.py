"""The customer list's batch actions: tags, status, archive. Each is one call of the batch service
(customers.services.customers_batch_update), all of the selection or none of it."""

from django.contrib import admin, messages
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from crm.admin_base import (
    SERVICE_ERRORS,
    action_confirmation,
    service_error_messages,
)
from customers import services
from customers.admin.forms import (
    AddTagsForm,
    ChangeStatusForm,
    RemoveTagsForm,
)
from customers.models import (
    CustomerStatus,
)

# --- actions -------------------------------------------------------------------------------


def _batch_action(modeladmin, request, queryset, *, form_class, title):
    """Show the action's form; when it is submitted valid, apply its changes (the form's
    `batch_changes()`) to the selected customers through the batch service."""
    if "apply" in request.POST:
        form = form_class(request.POST)
        if form.is_valid():
            try:
                updated = services.customers_batch_update(
                    actor=request.user,
                    customers=queryset,
                    reason=form.cleaned_data["reason"],
                    **form.batch_changes(),
                )
            except SERVICE_ERRORS as error:
                for message in service_error_messages(error):
                    modeladmin.message_user(request, message, messages.ERROR)
                return None
            modeladmin.message_user(
                request,
                ngettext("%(count)d customer changed.", "%(count)d customers changed.", updated)
                % {"count": updated},
                messages.SUCCESS,
            )
            return None
    else:
        form = form_class()
    return action_confirmation(
        modeladmin,
        request,
        template="admin/customers/customer/batch_action.html",
        title=title,
        form=form,
        count=queryset.count(),
    )


@admin.action(description=_("Add tags to the selected customers"), permissions=["batch_update"])
def add_tags(modeladmin, request, queryset):
    return _batch_action(modeladmin, request, queryset, form_class=AddTagsForm, title=_("Add tags"))


@admin.action(
    description=_("Remove tags from the selected customers"), permissions=["batch_update"]
)
def remove_tags(modeladmin, request, queryset):
    return _batch_action(
        modeladmin, request, queryset, form_class=RemoveTagsForm, title=_("Remove tags")
    )


@admin.action(
    description=_("Change the status of the selected customers"), permissions=["batch_update"]
)
def change_status(modeladmin, request, queryset):
    return _batch_action(
        modeladmin, request, queryset, form_class=ChangeStatusForm, title=_("Change status")
    )


@admin.action(description=_("Archive the selected customers"), permissions=["delete"])
def archive_selected(modeladmin, request, queryset):
    """Staff "delete": the records stay, with status archived. All of the selection or, past the
    batch limit, none of it, with the reason (the batch service, as the API's batch edit)."""
    try:
        archived = services.customers_batch_update(
            actor=request.user,
            customers=queryset,
            set_fields={"status": CustomerStatus.ARCHIVED},
            reason=gettext("Archived"),
        )
    except SERVICE_ERRORS as error:
        for message in service_error_messages(error):
            modeladmin.message_user(request, message, messages.ERROR)
        return
    modeladmin.message_user(
        request,
        ngettext("%(count)d customer archived.", "%(count)d customers archived.", archived)
        % {"count": archived},
        messages.SUCCESS,
    )
