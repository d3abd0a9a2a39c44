"""A real Celery worker for the tests that must show a task crossing Redis into another process
(crm.settings.test otherwise runs tasks eagerly, in the test's own process)."""

import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection

from tests.conftest import redis_or_skip

WORKER_COMMAND = [
    sys.executable,
    "-m",
    "celery",
    "-A",
    "crm",
    "worker",
    "--pool=solo",
    "--without-heartbeat",
    "--without-gossip",
    "--without-mingle",
    "-l",
    "warning",
]


@dataclass
class Worker:
    queue: str
    process: subprocess.Popen

    def wait_for(self, done, *, seconds: float = 60) -> None:
        """Poll `done()` until it is true; fail at once if the worker died meanwhile."""
        deadline = time.monotonic() + seconds
        while not done():
            assert self.process.poll() is None, self.process.stdout.read().decode()
            assert time.monotonic() < deadline, f"the worker did not finish in {seconds} s"
            time.sleep(0.2)


@contextmanager
def celery_worker(**env):
    """`celery worker` in another process, on a queue of its own (Worker.queue: send the test's
    tasks there), against this test's database and Redis; `env` adds to its environment. Use it
    in a transactional test, so that the worker sees the rows the test wrote. Skips without
    Redis (except under CI)."""
    redis_or_skip()
    from crm.celery import app

    database = connection.settings_dict
    queue = f"test-{uuid.uuid4().hex}"
    # The test settings made this process's keys with os.environ.setdefault: the worker gets
    # the same ones, so it reads what the test encrypted.
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings.test",
        "DATABASE_URL": "postgres://{user}:{password}@{host}:{port}/{name}".format(
            user=database["USER"] or "postgres",
            password=database["PASSWORD"] or "",
            host=database["HOST"] or "127.0.0.1",
            port=database["PORT"] or 5432,
            name=database["NAME"],
        ),
        **env,
    }
    process = subprocess.Popen(
        [*WORKER_COMMAND, "-Q", queue],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield Worker(queue=queue, process=process)
    finally:
        app.conf.task_always_eager = eager
        process.terminate()
        process.communicate(timeout=30)
