"""Demo segments for `make run`: a few saved conditions marketing would build, an RFM run over
the demo orders' last year, and every segment refreshed, so that the screens show real figures.
Once: a second run finds the segments there and changes nothing."""

from datetime import timedelta

from django.utils import timezone

from segments.models import Segment
from segments.services.rfm import rfm_run_create, rfm_run_execute
from segments.services.segments import segment_create

DEMO_SEGMENTS = [
    (
        "高价值客户",
        "累计消费 ¥5,000 以上且 10 单以上的常客。",
        {"totalSpent": {"gte": 5000}, "orderCount": {"gte": 10}},
    ),
    (
        "本月新客",
        "最近 30 天注册的客户。",
        {"registerDate": {"within_days": 30}},
    ),
    (
        "沉睡客户",
        "曾经消费，但 90 天以上没有再来。",
        {
            "logicalOperator": "and",
            "conditions": [
                {"field": "orderCount", "operator": "gte", "value": 1},
                {"field": "lastOrderDate", "operator": "before_days", "value": 90},
            ],
        },
    ),
    (
        "重要价值客户",
        "最近一次 RFM 分析中的重要价值客户。",
        {"rfmClass": {"eq": "important_value"}},
    ),
]


def load_demo_segments() -> int:
    """Returns how many segments it created (0 when they were there)."""
    if Segment.objects.exists():
        return 0
    today = timezone.localdate()
    run = rfm_run_create(actor=None, start=today - timedelta(days=365), end=today)
    rfm_run_execute(run_id=run.pk)
    # Each creation refreshes its segment once committed (at once without Redis, as in make run).
    for name, description, condition in DEMO_SEGMENTS:
        segment_create(actor=None, name=name, description=description, condition=condition)
    return len(DEMO_SEGMENTS)
