"""The nightly membership run (DESIGN.md flow 2): expire memberships, release the points held
for orders never recorded, expire points, then evaluate every customer's tier. Started by
celery-beat (membership.tasks) or by `manage.py membership_nightly`; each run is a JobRun with
its counts."""

from datetime import date

from django.utils import timezone

from crm.jobs import job_run
from membership.services.enrollment import expire_memberships
from membership.services.points import expire_points
from membership.services.redemption import release_stale_holds
from membership.services.tiers import evaluate_levels

JOB_NAME = "membership.nightly"


def run_nightly(*, today: date | None = None):
    today = today or timezone.localdate()
    with job_run(JOB_NAME) as run:
        run.counts["memberships_expired"] = expire_memberships(today=today)
        orders, released = release_stale_holds()
        run.counts["holds_released_orders"] = orders
        run.counts["holds_released_points"] = released
        expiry = expire_points(today=today)
        run.counts["points_expired_customers"] = expiry.customers
        run.counts["points_expired"] = expiry.points
        run.counts.update(evaluate_levels(today=today).counts())
    return run
