"""The development secrets `make run` writes into .env (crm.settings.dev_env)."""

import os
import stat

from cryptography.fernet import Fernet

from crm.settings.dev_env import generate_dev_env, load_dev_env


def test_the_keys_are_written_once_readable_by_the_owner_alone(tmp_path):
    path = tmp_path / ".env"

    assert generate_dev_env(path) is True
    first = path.read_text()
    assert generate_dev_env(path) is False

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == first
    values = dict(line.split("=", 1) for line in first.splitlines())
    assert set(values) == {"SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY"}
    Fernet(values["FIELD_ENCRYPTION_KEYS"])  # a valid key


def test_loading_never_overrides_what_the_environment_sets(tmp_path, monkeypatch):
    path = tmp_path / ".env"
    path.write_text("SECRET_KEY=from-file\nBLIND_INDEX_KEY=also-from-file\n")
    monkeypatch.setenv("SECRET_KEY", "from-environment")
    # Set, then removed: monkeypatch puts back what the test found, whatever load_dev_env adds.
    monkeypatch.setenv("BLIND_INDEX_KEY", "")
    monkeypatch.delenv("BLIND_INDEX_KEY")

    load_dev_env(path)

    assert os.environ["SECRET_KEY"] == "from-environment"
    assert os.environ["BLIND_INDEX_KEY"] == "also-from-file"
