import uuid

import pytest


@pytest.fixture(autouse=True)
def private_cache(settings):
    """Each test its own cache namespace (login counters live in the cache), on the real backend."""
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    }


@pytest.fixture
def login_limits(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_LOCKOUT_SECONDS = 600
    return settings
