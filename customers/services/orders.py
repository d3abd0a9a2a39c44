"""Business actions on orders (DESIGN.md "An order arrives"): recording and refunding.

The customer's order totals are denormalised on Customer and written only here:

- order_count: orders that are not fully refunded;
- total_spent: the sum over the customer's orders of (amount - discount - refunded_amount), i.e.
  what the customer actually paid and kept paid;
- avg_order_value: total_spent / order_count (0 without orders);
- first_order_date / last_order_date: earliest and latest placed_at of recorded orders (a refund
  does not move them: the visit happened).

A refund may return at most what was paid and not yet refunded (amount - discount - refunded).
Every change to the totals is one UPDATE with F() expressions on the customer row locked with
SELECT ... FOR UPDATE, in the same transaction as the order, so concurrent orders of one customer
add up exactly. Other apps react through customers.hooks, after commit.
"""

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import DecimalField, ExpressionWrapper, F, Value
from django.db.models.functions import Coalesce, Greatest, Least, NullIf
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.audit import record_event
from crm.errors import BusinessError, violated_constraint
from crm.idempotency import IdempotencyKeyReused, fingerprint
from crm.pii import phone_last4
from customers import hooks
from customers.models import (
    Customer,
    CustomerSource,
    Order,
    OrderChannel,
    OrderItem,
    OrderStatus,
    Refund,
)
from customers.services.fields import clean_phone
from customers.services.records import DuplicatePhone, customer_create

SUPPORTED_CURRENCIES = {"CNY"}
IDEMPOTENCY_CONSTRAINT = "order_source_external_id_unique"
REFUND_KEY_CONSTRAINT = "customers_refund_idempotency_key_key"
CHANNEL_SOURCES = {
    OrderChannel.DINE_IN: CustomerSource.DINE_IN,
    OrderChannel.TAKEAWAY: CustomerSource.TAKEAWAY,
    OrderChannel.DELIVERY: CustomerSource.DELIVERY,
    OrderChannel.MINI_PROGRAM: CustomerSource.MINI_PROGRAM,
    OrderChannel.APP: CustomerSource.APP,
}
MONEY = DecimalField(max_digits=14, decimal_places=2)


class RefundTooLarge(BusinessError):
    code = "refund_too_large"

    def __init__(self, left: Decimal):
        message = _("The refund is larger than what is left to refund (%(left)s).") % {"left": left}
        super().__init__(message, fields={"amount": [str(message)]})


class UnknownCustomer(BusinessError):
    code = "unknown_customer"

    def __init__(self):
        message = _("No customer with this id; send customer {phone, name} instead.")
        super().__init__(message, fields={"customerId": [str(message)]})


class RecordedOrder(NamedTuple):
    order: Order
    customer: Customer
    customer_created: bool
    created: bool


def record_order(
    *,
    actor,
    source: str,
    external_id: str,
    placed_at: datetime,
    amount: Decimal,
    items: list[dict],
    store_id: str = "",
    channel: str = OrderChannel.OTHER,
    discount: Decimal = Decimal("0"),
    currency: str = "CNY",
    points_used: int = 0,
    payment_method: str = "other",
    customer_id: int | None = None,
    customer_data: dict | None = None,
) -> RecordedOrder:
    """Store an order once per (source, external_id) and add it to its customer's totals.

    The customer is `customer_id`, or found by `customer_data["phone"]` (blind index), or created
    from the order with source = the order's channel. A repeat of (source, external_id) returns
    the first result with created=False and changes nothing. Unpacks as
    (order, customer, customer_created, created).

    Raises ValidationError (field errors: phone, amount, discount, currency, items ...) and
    UnknownCustomer.
    """
    existing = _existing(source, external_id)
    if existing is not None:
        return existing
    order = Order(
        source=source,
        external_id=external_id,
        store_id=store_id,
        channel=channel,
        placed_at=placed_at,
        amount=amount,
        discount=discount,
        currency=currency,
        points_used=points_used,
        payment_method=payment_method,
    )
    order_items = [OrderItem(**item) for item in items]
    _validate(order, order_items)
    phone = _order_phone(customer_id, customer_data)
    with transaction.atomic():
        customer, customer_created = _find_or_create_customer(
            actor=actor,
            customer_id=customer_id,
            phone=phone,
            name=(customer_data or {}).get("name", ""),
            channel=channel,
        )
        # Orders of one customer queue here, so the totals below add up exactly.
        Customer.objects.select_for_update().filter(pk=customer.pk).values_list("pk").get()
        order.customer = customer
        order.customer_created = customer_created
        try:
            with transaction.atomic():
                order.save()
        except IntegrityError as error:
            if violated_constraint(error) != IDEMPOTENCY_CONSTRAINT:
                raise
            # A concurrent request recorded the same order first: answer as it did.
            found = _existing(source, external_id)
            if found is None:
                raise
            if customer_created:
                # Our customer was created for an order that already exists: undo it.
                transaction.set_rollback(True)
            return found
        for item in order_items:
            item.order = order
        OrderItem.objects.bulk_create(order_items)
        paid = order.amount - order.discount
        placed = Value(order.placed_at)
        Customer.objects.filter(pk=customer.pk).update(
            order_count=F("order_count") + 1,
            total_spent=F("total_spent") + paid,
            avg_order_value=ExpressionWrapper(
                (F("total_spent") + paid) / (F("order_count") + 1), output_field=MONEY
            ),
            first_order_date=Least(Coalesce("first_order_date", placed), placed),
            last_order_date=Greatest(Coalesce("last_order_date", placed), placed),
        )
        hooks.run_now("recording", order=order, customer=customer)
        record_event(
            action="create",
            actor=actor,
            obj=order,
            summary={
                "customerId": str(customer.pk),
                "amount": order.amount,
                "discount": order.discount,
                "customerCreated": customer_created,
            },
        )
        hooks.run_on_commit("recorded", order=order, customer=customer)
    customer.refresh_from_db()
    return RecordedOrder(order, customer, customer_created, True)


def refund_order(
    *,
    order: Order,
    amount: Decimal,
    reason: str = "",
    actor,
    idempotency_key: str | None = None,
) -> Order:
    """Refund part or all of what was paid (amount - discount) and reverse it in the totals.

    The order becomes partially_refunded, or refunded when nothing paid is left; only a full
    refund takes the order out of order_count. A retry with the same `idempotency_key` refunds
    nothing more and returns the order; the key on another request raises IdempotencyKeyReused.
    Raises RefundTooLarge (nothing changes) and ValidationError for an amount that is not
    positive.
    """
    amount = Decimal(amount)
    if amount <= 0:
        raise ValidationError({"amount": [_("A refund must be more than 0.")]})
    # "10" and "10.00", or a reason with stray spaces, are the same request retried.
    request_fingerprint = fingerprint(
        order=order.pk, amount=amount.quantize(Decimal("0.01")), reason=reason.strip()
    )
    with transaction.atomic():
        # The customer first, then the order, as in record_order: one lock order, no deadlock.
        Customer.objects.select_for_update().filter(pk=order.customer_id).values_list("pk").get()
        order = Order.objects.select_for_update().get(pk=order.pk)
        if idempotency_key:
            earlier = Refund.objects.filter(idempotency_key=idempotency_key).first()
            if earlier is not None:
                if earlier.request_fingerprint != request_fingerprint:
                    raise IdempotencyKeyReused()
                return order
        left = order.amount - order.discount - order.refunded_amount
        if amount > left:
            raise RefundTooLarge(left)
        full = amount == left
        order.refunded_amount += amount
        order.status = OrderStatus.REFUNDED if full else OrderStatus.PARTIALLY_REFUNDED
        order.save(update_fields=["refunded_amount", "status"])
        try:
            with transaction.atomic():
                refund = Refund.objects.create(
                    order=order,
                    amount=amount,
                    reason=reason,
                    actor=actor,
                    idempotency_key=idempotency_key,
                    request_fingerprint=request_fingerprint,
                )
        except IntegrityError as error:
            # Refunds of one customer queue on its lock, so a key taken meanwhile was taken by
            # a refund of another customer's order: a different request.
            if violated_constraint(error) == REFUND_KEY_CONSTRAINT:
                raise IdempotencyKeyReused() from error
            raise
        removed = 1 if full else 0
        Customer.objects.filter(pk=order.customer_id).update(
            order_count=F("order_count") - removed,
            total_spent=F("total_spent") - amount,
            avg_order_value=Coalesce(
                ExpressionWrapper(
                    (F("total_spent") - amount) / NullIf(F("order_count") - removed, 0),
                    output_field=MONEY,
                ),
                Value(Decimal("0")),
                output_field=MONEY,
            ),
        )
        record_event(
            action="update",
            actor=actor,
            obj=order,
            summary={"refund": amount, "reason": reason, "status": order.status},
        )
        hooks.run_on_commit("refunded", order=order, refund=refund)
    return order


def _existing(source: str, external_id: str) -> RecordedOrder | None:
    order = (
        Order.objects.select_related("customer")
        .filter(source=source, external_id=external_id)
        .first()
    )
    if order is None:
        return None
    return RecordedOrder(order, order.customer, order.customer_created, False)


def _validate(order: Order, items: list[OrderItem]) -> None:
    errors = {}
    try:
        order.clean_fields(exclude=["customer"])
    except ValidationError as error:
        errors.update(error.message_dict)
    if order.currency not in SUPPORTED_CURRENCIES:
        errors["currency"] = [
            _("Only %(currencies)s is accepted for now.")
            % {"currencies": ", ".join(sorted(SUPPORTED_CURRENCIES))}
        ]
    if "amount" not in errors and order.amount < 0:
        errors["amount"] = [_("The amount cannot be negative.")]
    if "discount" not in errors and "amount" not in errors:
        if order.discount < 0:
            errors["discount"] = [_("The discount cannot be negative.")]
        elif order.discount > order.amount:
            errors["discount"] = [_("The discount cannot be larger than the amount.")]
    if not items:
        errors["items"] = [_("An order needs at least one item.")]
    for item in items:
        try:
            item.clean_fields(exclude=["order"])
            if item.quantity < 1 or item.price < 0:
                raise ValidationError(_("Quantity must be at least 1 and price at least 0."))
        except ValidationError as error:
            errors.setdefault("items", []).extend(error.messages)
    if errors:
        raise ValidationError(errors)


def _order_phone(customer_id, customer_data) -> str | None:
    """The order's phone, normalised here once for the lookup and a new customer alike."""
    if customer_id is not None:
        return None
    if not customer_data or not customer_data.get("phone"):
        raise ValidationError({"customer": [_("Give customer {phone, name} or customerId.")]})
    return clean_phone(customer_data["phone"])


def _find_or_create_customer(*, actor, customer_id, phone, name, channel):
    if customer_id is not None:
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is None:
            raise UnknownCustomer()
        return customer, False
    customer = Customer.objects.by_phone(phone).first()
    if customer is not None:
        return customer, False
    try:
        customer = customer_create(
            actor=actor,
            name=name.strip() or gettext("Customer %(last4)s") % {"last4": phone_last4(phone)},
            phone=phone,
            source=CHANNEL_SOURCES.get(channel, CustomerSource.OTHER),
            reason=gettext("Created from an order"),
        )
    except DuplicatePhone:
        # A concurrent order created this customer first (its commit ended our wait).
        return Customer.objects.by_phone(phone).first(), False
    return customer, True
