"""Local / embedded default: what `retail-server run` uses on one machine with no services (SQLite, in-memory
channel layer, embedded time series). DEBUG stays off unless DJANGO_DEBUG says otherwise: a debug page shows
settings and data to any client. Only `retail-server demo` on a loopback address turns it on by default."""

from server.config.settings.base import *  # noqa: F403
from server.config.settings.base import env_bool

DEBUG = env_bool("DJANGO_DEBUG", False)
# No collectstatic on one machine: whitenoise serves the dashboard build from the app directories.
WHITENOISE_USE_FINDERS = True
