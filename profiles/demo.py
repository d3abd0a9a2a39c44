"""Demo behaviour events and portraits for `make run` (manage.py load_demo_portraits): a few
weeks of browsing for one customer in three, then a full portrait rebuild, so that the Portrait
tab and the profile API show real figures. Loaded once: a second run changes nothing."""

import random
from datetime import timedelta

from django.utils import timezone

from customers.models import Customer, OrderItem
from profiles.models import BehaviourEvent, CustomerProfile, EventChannel, EventType
from profiles.services.portraits import rebuild_portraits

EVENT_TYPES = [EventType.VIEW] * 6 + [
    EventType.ADD_TO_CART,
    EventType.REVIEW,
    EventType.SHARE,
    EventType.FAVOURITE,
    EventType.VISIT,
]


def load_demo_portraits(*, seed: int = 13) -> dict:
    """Returns the events and portraits created (both 0 when already loaded)."""
    if CustomerProfile.objects.exists():
        return {"events": 0, "portraits": 0}
    rng = random.Random(seed)
    dishes = list(OrderItem.objects.values_list("dish", "category").distinct()[:40]) or [
        ("宫保鸡丁", "川菜")
    ]
    now = timezone.now()
    events = []
    for customer_id in Customer.objects.live().values_list("pk", flat=True)[::3]:
        for session in range(rng.randint(1, 6)):
            start = now - timedelta(days=rng.randint(0, 40), hours=rng.randint(0, 23))
            channel = rng.choice(EventChannel.values)
            device = rng.choice(["mobile", "mobile", "tablet", "pc"])
            for step in range(rng.randint(1, 5)):
                dish, category = rng.choice(dishes)
                events.append(
                    BehaviourEvent(
                        customer_id=customer_id,
                        type=rng.choice(EVENT_TYPES),
                        channel=channel,
                        device=device,
                        dish=dish,
                        category=category,
                        session_id=f"demo-{customer_id}-{session}",
                        duration_seconds=rng.randint(5, 180),
                        occurred_at=start + timedelta(minutes=step),
                        ip_prefix="203.0.113.0/24",
                    )
                )
    BehaviourEvent.objects.bulk_create(events, batch_size=2000)
    run = rebuild_portraits(full=True)
    return {"events": len(events), "portraits": run.counts["updated"]}
