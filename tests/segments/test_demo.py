"""The demo segments of `make run`: created once, counted, refreshed, with an RFM run."""

import pytest

from customers.devdata.demo import load_demo_customers
from segments.demo import DEMO_SEGMENTS, load_demo_segments
from segments.models import RfmRun, Segment, SegmentSnapshot

pytestmark = pytest.mark.django_db


def test_the_demo_segments_are_created_once_with_members_and_an_rfm_run(
    django_capture_on_commit_callbacks,
):
    load_demo_customers(150)

    with django_capture_on_commit_callbacks(execute=True):
        created = load_demo_segments()

    assert created == len(DEMO_SEGMENTS)
    run = RfmRun.objects.get()
    assert run.status == "done" and run.scored > 0
    assert SegmentSnapshot.objects.count() == len(DEMO_SEGMENTS)
    assert Segment.objects.filter(customer_count__gt=0).count() >= 3
    assert load_demo_segments() == 0
