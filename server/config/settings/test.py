"""Test settings: the test command exports DATABASE_URL / REDIS_URL / INFLUX_URL of the real services."""

from server.config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEBUG = False
# The tests' receivers listen on 127.0.0.1 (test_webhook_attacks turns it off).
NOTIFY_WEBHOOK_ALLOW_PRIVATE = True
