"""`make fuzz`: schemathesis over the whole OpenAPI schema against a live server (docs/api.md).

The live server is pytest-django's, on the test database (the real PostgreSQL and Redis) with a
superuser's token and a few demo customers; schemathesis runs as its CLI does for anyone
reproducing a failure, with a fixed seed, a bounded number of examples per operation, and the
hooks of tests/fuzz_hooks.py.
"""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.throttling import UserRateThrottle

from crm.auth.tokens import create_api_token
from customers.devdata.demo import load_demo_customers

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db(transaction=True)]

SEED = int(os.environ.get("FUZZ_SEED", 20261202))
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", 25))
# More options for schemathesis, e.g. FUZZ_ARGS="--include-path-regex segments" to fuzz a part.
EXTRA_ARGS = shlex.split(os.environ.get("FUZZ_ARGS", ""))
CHECKS = [
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
]


def test_every_operation_keeps_its_contract_under_generated_input(
    live_server, make_user, tmp_path, monkeypatch
):
    # The fuzzer sends thousands of requests a minute; throttling has its own test.
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "1000000/min"})
    load_demo_customers(20)
    _token, key = create_api_token(user=make_user("fuzz", superuser=True), name="fuzz")
    schemathesis = Path(sys.executable).parent / "schemathesis"
    command = [
        str(schemathesis),
        "run",
        f"{live_server.url}/api/v1/schema/",
        f"--header=Authorization: Token {key}",
        "--header=Accept-Language: en",
        f"--checks={','.join(CHECKS)}",
        f"--seed={SEED}",
        f"--max-examples={MAX_EXAMPLES}",
        "--generation-database=none",
        "--workers=2",
        "--no-color",
        f"--report-dir={tmp_path}",
        *EXTRA_ARGS,
    ]
    # In tmp_path: schemathesis keeps a cache of past failures in .schemathesis/ of its cwd.
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.fuzz_hooks",
        "PYTHONPATH": str(settings.BASE_DIR),
    }
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=environment
    )
    print(result.stdout[-30000:])
    assert result.returncode == 0, "schemathesis found failures: see its output above"
