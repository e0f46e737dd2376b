"""Production settings: everything from the environment, nothing insecure by default.

Refuses to start (ImproperlyConfigured) without DJANGO_SECRET_KEY, without DJANGO_ALLOWED_HOSTS, or with a
gRPC listener that has no TLS certificate unless GRPC_ALLOW_INSECURE=true says that TLS ends in front of it.
docs/operations.md lists every variable.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from server.config.settings.base import *  # noqa: F403
from server.config.settings.base import DATA_DIR, env_bool, env_list
from server.observability.jsonlog import logging_config

MIN_SECRET_KEY_CHARS = 32
_KNOWN_INSECURE_KEYS = frozenset({"insecure-embedded-default-change-me", "change-me", "changeme", "secret"})


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as err:
        raise ImproperlyConfigured(f"{name}={raw!r} must be an integer") from err


def _required_secret_key() -> str:
    key = os.environ.get("DJANGO_SECRET_KEY", "").strip()
    if not key:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required in production: set it to a random value of at least "
            f"{MIN_SECRET_KEY_CHARS} characters, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`"
        )
    if key in _KNOWN_INSECURE_KEYS or key.startswith("django-insecure-") or len(key) < MIN_SECRET_KEY_CHARS:
        raise ImproperlyConfigured(
            f"DJANGO_SECRET_KEY is too weak: use a random value of at least {MIN_SECRET_KEY_CHARS} characters"
        )
    return key


def _required_allowed_hosts() -> list[str]:
    hosts = env_list("DJANGO_ALLOWED_HOSTS", [])
    if not hosts:
        raise ImproperlyConfigured(
            "DJANGO_ALLOWED_HOSTS is required in production: the comma-separated host names the dashboard is "
            "served under, e.g. 'retail.example.com,localhost'"
        )
    return hosts


def _grpc_tls_files() -> tuple[str, str, str]:
    """Return (cert, key, client CA) paths, each checked to be a readable file; empty when not configured."""
    cert = os.environ.get("GRPC_TLS_CERT", "").strip()
    key = os.environ.get("GRPC_TLS_KEY", "").strip()
    client_ca = os.environ.get("GRPC_TLS_CLIENT_CA", "").strip()
    if bool(cert) != bool(key):
        raise ImproperlyConfigured(
            "GRPC_TLS_CERT and GRPC_TLS_KEY must be set together (PEM certificate and key)"
        )
    if client_ca and not cert:
        raise ImproperlyConfigured(
            "GRPC_TLS_CLIENT_CA (client certificates) needs GRPC_TLS_CERT and GRPC_TLS_KEY"
        )
    for name, value in (("GRPC_TLS_CERT", cert), ("GRPC_TLS_KEY", key), ("GRPC_TLS_CLIENT_CA", client_ca)):
        if value and not (Path(value).is_file() and os.access(value, os.R_OK)):
            raise ImproperlyConfigured(f"{name}={value} is not a readable file")
    if not cert and not env_bool("GRPC_ALLOW_INSECURE", False):
        raise ImproperlyConfigured(
            "the gRPC ingest listener has no TLS: set GRPC_TLS_CERT and GRPC_TLS_KEY (PEM files), or set "
            "GRPC_ALLOW_INSECURE=true when TLS ends at a load balancer in front of it or the process runs "
            "--no-grpc"
        )
    return cert, key, client_ca


SECRET_KEY = _required_secret_key()
DEBUG = False  # never from the environment in production: a debug page leaks settings and data
ALLOWED_HOSTS = _required_allowed_hosts()
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# TLS ends at the reverse proxy / load balancer, which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env_bool("DJANGO_USE_X_FORWARDED_HOST", False)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
# Probes and scrapers talk plain HTTP to the process itself.
SECURE_REDIRECT_EXEMPT = [r"^api/health$", r"^metrics$"]
SECURE_HSTS_SECONDS = _env_int("DJANGO_HSTS_SECONDS", 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
# Both are opt-in above (they bind every subdomain / the browsers' preload list), so their deploy warnings are
# silenced; every other `check --deploy` warning stands.
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Cookies only over HTTPS. DJANGO_SECURE_COOKIES=false is for a trial on plain http://<LAN address> only.
_SECURE_COOKIES = env_bool("DJANGO_SECURE_COOKIES", True)
SESSION_COOKIE_SECURE = _SECURE_COOKIES
CSRF_COOKIE_SECURE = _SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"  # the dashboard reads the CSRF cookie to send X-CSRFToken, so not HttpOnly
SESSION_COOKIE_AGE = _env_int("DJANGO_SESSION_COOKIE_AGE_S", 12 * 3600)

# Static files: collected at image build time into DJANGO_STATIC_ROOT, served by whitenoise with hashed names.
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", str(DATA_DIR / "static"))).resolve()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_MAX_AGE = _env_int("WHITENOISE_MAX_AGE_S", 3600)

# gRPC ingest TLS: server certificate, optional client certificates (mutual TLS).
GRPC_TLS_CERT, GRPC_TLS_KEY, GRPC_TLS_CLIENT_CA = _grpc_tls_files()

try:
    LOGGING = logging_config(
        level=os.environ.get("LOG_LEVEL", "INFO") or "INFO",
        log_format=(os.environ.get("LOG_FORMAT", "json") or "json").strip().lower(),
        service=os.environ.get("RETAIL_SERVICE_NAME", "retail-server"),
    )
except ValueError as err:
    raise ImproperlyConfigured(str(err)) from err
