"""The nightly segments run (DESIGN.md flow 2): an RFM run over the last RFM_NIGHTLY_DAYS up to
yesterday, so that conditions on the RFM tier read fresh tiers, then every segment refreshed
with a snapshot and its report (HTML and PDF). Started by celery-beat (segments.tasks) or
`manage.py segments_nightly`."""

from datetime import date, timedelta

from django.conf import settings
from django.utils import timezone

from segments.services.rfm import rfm_run_create, rfm_run_execute
from segments.services.segments import refresh_all_segments


def run_nightly(*, today: date | None = None) -> dict:
    """Returns the counts of the run: the RFM run's id and scored customers, and the refresh's."""
    today = today or timezone.localdate()
    end = today - timedelta(days=1)
    run = rfm_run_create(
        actor=None, start=end - timedelta(days=settings.RFM_NIGHTLY_DAYS - 1), end=end
    )
    run = rfm_run_execute(run_id=run.pk)
    return {
        "rfm_run": run.pk,
        "rfm_scored": run.scored,
        **refresh_all_segments(with_reports=True),
    }
