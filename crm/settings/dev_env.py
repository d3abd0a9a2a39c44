"""The development secrets: generated once by `make run` into the ignored file .env."""

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

ENV_FILE = Path(__file__).resolve().parent.parent.parent / ".env"


def generate_dev_env(path: Path = ENV_FILE) -> bool:
    """Write fresh development keys to `path` unless it exists; return whether it wrote."""
    try:
        # Created readable by its owner alone from the first byte, and never over a file.
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(handle, "w") as file:
        file.write(
            f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
            f"FIELD_ENCRYPTION_KEYS={Fernet.generate_key().decode()}\n"
            f"BLIND_INDEX_KEY={secrets.token_urlsafe(32)}\n"
        )
    return True


def load_dev_env(path: Path = ENV_FILE) -> None:
    """Put the file's KEY=VALUE lines into os.environ, without overriding what is already set."""
    generate_dev_env(path)
    for line in path.read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            os.environ.setdefault(key.strip(), value.strip())
