from django.utils.translation import gettext_lazy as _

from crm.errors import NotFound
from customers.models import Customer


def lock_customer(customer_id: int, *fields: str) -> Customer:
    """The customer row, locked for the transaction (SELECT ... FOR UPDATE), with `fields`: every
    change of a customer's points or tier takes this lock first, so they queue up."""
    try:
        return Customer.objects.select_for_update().only("id", *fields).get(pk=customer_id)
    except Customer.DoesNotExist:
        raise NotFound(_("No customer with this id.")) from None
