from celery import shared_task

from segments.services.rfm import rfm_run_execute


@shared_task(name="segments.rfm_run")
def rfm_run(run_id: int):
    return rfm_run_execute(run_id=run_id).scored
