from celery import shared_task

from membership.services.nightly import run_nightly


@shared_task(name="membership.nightly")
def membership_nightly():
    return run_nightly().counts
