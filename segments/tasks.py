from celery import shared_task

from segments.services.nightly import run_nightly
from segments.services.rfm import rfm_run_execute
from segments.services.segments import segment_refresh


@shared_task(name="segments.rfm_run")
def rfm_run(run_id: int):
    return rfm_run_execute(run_id=run_id).scored


@shared_task(name="segments.refresh_segment")
def refresh_segment(segment_id: int):
    return segment_refresh(segment_id=segment_id).count


@shared_task(name="segments.nightly")
def segments_nightly():
    return run_nightly()
