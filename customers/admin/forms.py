"""Forms of the customer staff screens: the customer form, address forms and batch-action forms.

The forms only collect and shape input; customers.services applies the rules (normalising,
uniqueness, re-verification). Phone, e-mail and address details are shown unmasked only to users
who may reveal them: for the others the input starts empty, the masked value is its placeholder,
and an empty input keeps the stored value.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.admin_base import ServiceErrorsForm
from crm.pii import normalize_phone
from customers.models import Address, Customer, CustomerStatus, Tag
from customers.pii_access import shown_email, shown_phone
from customers.services.records import UPDATABLE_FIELDS


def mask_text(text: str) -> str:
    """A street address without its detail: `朝阳区建国路88号` -> `朝阳****`."""
    if not text:
        return text
    return text[:2] + "****" if len(text) > 2 else "*" * len(text)


class CustomerAdminForm(ServiceErrorsForm):
    """Add and change a customer. The admin sets `actor` and `reveal` on the class it builds
    for each request (ModelAdmin.get_form makes a new class every time); a service's refusal
    shows on the fields it names (ServiceErrorsForm)."""

    phone = forms.CharField(
        label=_("phone"),
        max_length=32,
        help_text=_("Mobile number, such as 13800138000, or +85291234567 outside the mainland."),
    )
    email = forms.CharField(label=_("e-mail"), max_length=254, required=False)
    avatar = forms.URLField(
        label=_("avatar"), max_length=500, required=False, assume_scheme="https"
    )
    customer_no = forms.CharField(
        label=_("customer number"),
        max_length=32,
        required=False,
        help_text=_("Leave empty to have the next number (C00001, C00002 ...) generated."),
    )
    # Not the model's `tags` (a through model): the service sets the tags, with history.
    customer_tags = forms.ModelMultipleChoiceField(
        label=_("tags"),
        queryset=Tag.objects.all(),
        required=False,
        # Tags are few: a row of checkboxes reads better than a two-list selector.
        widget=forms.CheckboxSelectMultiple(attrs={"class": "crm-tag-choice"}),
    )
    verification_password = forms.CharField(
        label=_("your password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("Needed only when you change the phone number or e-mail (re-verification)."),
    )
    change_reason = forms.CharField(
        label=_("reason for the change"),
        max_length=200,
        required=False,
        help_text=_("Kept in the customer's history."),
    )

    actor = None
    reveal = False

    class Meta:
        model = Customer
        # What customer_create and customer_update take, and the chosen number of a new one.
        fields = ["customer_no", *UPDATABLE_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        customer = self.instance
        if customer.pk is None:
            return
        self.initial["customer_tags"] = list(customer.tags.all())
        if self.reveal:
            self.initial["phone"] = shown_phone(customer.phone, reveal=True) or ""
            self.initial["email"] = customer.email or ""
            return
        # Users who may not see the stored values type a new one, or leave the input empty.
        for name, shown in (
            ("phone", shown_phone(customer.phone, reveal=False)),
            ("email", shown_email(customer.email, reveal=False)),
        ):
            if name not in self.fields:
                continue
            self.initial[name] = ""
            field = self.fields[name]
            field.required = False
            if shown:
                field.widget.attrs["placeholder"] = shown
            field.help_text = _("Hidden for privacy; leave empty to keep the current value.")

    def profile_changes(self) -> dict:
        """The changed profile fields, with values as the service takes them."""
        changes = {}
        for name in self.changed_data:
            if name in {"customer_tags", "verification_password", "change_reason", "customer_no"}:
                continue
            value = self.cleaned_data.get(name)
            if name in {"phone", "email"} and not self.reveal and not value:
                continue
            changes[name] = value
        return changes

    def tag_names(self) -> list[str]:
        return [tag.name for tag in self.cleaned_data.get("customer_tags") or []]

    def tags_changed(self) -> bool:
        return "customer_tags" in self.changed_data


class AddressForm(forms.ModelForm):
    """An address; the phone and the street address are masked for users without reveal."""

    phone = forms.CharField(label=_("phone"), max_length=32, required=False)
    detail = forms.CharField(label=_("street address"), max_length=200, required=False)

    reveal = False

    class Meta:
        model = Address
        fields = [
            "label",
            "recipient",
            "phone",
            "province",
            "city",
            "district",
            "detail",
            "postal_code",
            "is_default",
        ]
        # An encrypted text column, but a one-line name.
        widgets = {"recipient": forms.TextInput}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["detail"].widget.attrs["size"] = 30
        self.fields["phone"].widget.attrs["size"] = 14
        if self.instance.pk is None or self.reveal:
            return
        self.initial["phone"] = ""
        self.initial["detail"] = ""
        if self.instance.phone:
            self.fields["phone"].widget.attrs["placeholder"] = shown_phone(
                self.instance.phone, reveal=False
            )
        self.fields["detail"].widget.attrs["placeholder"] = mask_text(self.instance.detail)

    def clean_phone(self):
        phone = self.cleaned_data["phone"].strip()
        if not phone:
            # Masked and left empty: keep the stored number.
            return self.instance.phone if self.instance.pk and not self.reveal else ""
        return normalize_phone(phone)

    def clean_detail(self):
        detail = self.cleaned_data["detail"].strip()
        if not detail and self.instance.pk and not self.reveal:
            return self.instance.detail
        if not detail:
            raise ValidationError(_("Enter the street address."), code="required")
        return detail


class AddressInlineFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        defaults = [
            form
            for form in self.forms
            if form.cleaned_data.get("is_default") and not form.cleaned_data.get("DELETE")
        ]
        if len(defaults) > 1:
            raise ValidationError(_("Only one address can be the default."))


class BatchActionForm(forms.Form):
    reason = forms.CharField(
        label=_("reason"),
        max_length=200,
        required=False,
        help_text=_("Kept in each customer's history."),
    )


class AddTagsForm(BatchActionForm):
    tags = forms.ModelMultipleChoiceField(
        label=_("existing tags"),
        queryset=Tag.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    new_tags = forms.CharField(
        label=_("new tags"),
        max_length=500,
        required=False,
        help_text=_("Names separated by commas; missing tags are created."),
    )

    field_order = ["tags", "new_tags", "reason"]

    def clean(self):
        cleaned = super().clean()
        if not self.tag_names():
            raise ValidationError(_("Choose or enter at least one tag."))
        return cleaned

    def batch_changes(self) -> dict:
        return {"set_fields": {}, "add_tags": self.tag_names()}

    def tag_names(self) -> list[str]:
        names = [tag.name for tag in self.cleaned_data.get("tags") or []]
        typed = self.cleaned_data.get("new_tags") or ""
        names += [name.strip() for name in typed.replace("，", ",").split(",") if name.strip()]
        return names


class RemoveTagsForm(BatchActionForm):
    tags = forms.ModelMultipleChoiceField(
        label=_("tags to remove"), queryset=Tag.objects.all(), widget=forms.CheckboxSelectMultiple
    )

    field_order = ["tags", "reason"]

    def batch_changes(self) -> dict:
        return {"set_fields": {}, "remove_tags": [tag.name for tag in self.cleaned_data["tags"]]}


class ChangeStatusForm(BatchActionForm):
    status = forms.ChoiceField(label=_("new status"), choices=CustomerStatus.choices)

    field_order = ["status", "reason"]

    def batch_changes(self) -> dict:
        return {"set_fields": {"status": self.cleaned_data["status"]}}
