"""Local / embedded default: what `scripts/run` uses on one machine with no services."""

from server.config.settings.base import *  # noqa: F403
from server.config.settings.base import env_bool

DEBUG = env_bool("DJANGO_DEBUG", True)
