"""How membership reacts to orders (registered as customers.hooks in MembershipConfig.ready):
an order earns points and may upgrade the customer at once; a refund reverses its points, and a
full refund the benefits used on it."""

from customers.models import Customer, Order, Refund
from membership.services.benefits import benefits_for, reverse_usages_for_refund
from membership.services.order_points import earn_for_order, reverse_for_refund
from membership.services.tiers import evaluate_levels


def on_order_recorded(*, order: Order, customer: Customer) -> None:
    level = Customer.objects.values_list("level", flat=True).get(pk=customer.pk)
    applied = benefits_for(level, amount=order.amount)
    earn_for_order(order=order, multiplier=applied.points_multiplier)
    evaluate_levels(customer_ids=[customer.pk], allow_downgrade=False)


def on_order_refunded(*, order: Order, refund: Refund) -> None:
    reverse_for_refund(order=order, refund=refund)
    reverse_usages_for_refund(order=order)
