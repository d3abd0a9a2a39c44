from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    """The customer's orders index gains the columns an RFM run sums (segments.services.rfm):
    built beside the old one without locking out order writes, then the old one dropped, so
    that the customer's order pages always have an index."""

    atomic = False

    dependencies = [
        ("customers", "0014_refund_idempotency_key"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="order",
            index=models.Index(
                fields=["customer_id", "-placed_at", "-id"],
                include=("amount", "discount", "refunded_amount", "status"),
                name="order_customer_covering_idx",
            ),
        ),
        RemoveIndexConcurrently(model_name="order", name="order_customer_idx"),
    ]
