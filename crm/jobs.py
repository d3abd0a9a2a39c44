"""Logging the runs of scheduled and operator jobs as JobRun rows."""

import logging
from contextlib import contextmanager

from django.utils import timezone

from crm.models import JobRun

logger = logging.getLogger(__name__)


@contextmanager
def job_run(name: str):
    """Record one run of `name`: yields the JobRun, whose `counts` the job fills in. The row is
    written outside the job's own transactions, so a failed run is logged, with its error, and
    the error is raised again for the caller (Celery retries, a command exits non-zero)."""
    run = JobRun.objects.create(name=name)
    try:
        yield run
    except Exception as exc:
        run.status = JobRun.Status.FAILED
        run.error = f"{type(exc).__name__}: {exc}"
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at", "counts"])
        logger.exception("Job %s failed", name)
        raise
    run.status = JobRun.Status.DONE
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "finished_at", "counts"])
    logger.info("Job %s done in %s: %s", name, run.duration, run.counts)
