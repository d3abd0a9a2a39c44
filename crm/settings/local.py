"""Development profile, used by `make run`: DEBUG on, keys from the generated .env file."""

from crm.settings.dev_env import load_dev_env

load_dev_env()

from crm.settings.base import *  # noqa: E402,F403
from crm.settings.env import env_bool  # noqa: E402

DEBUG = env_bool("DEBUG", True)
