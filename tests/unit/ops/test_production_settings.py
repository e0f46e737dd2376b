"""server.config.settings.production: refuses insecure configurations and passes Django's deploy checklist."""

from __future__ import annotations

import importlib
import os
import secrets
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from django.core.exceptions import ImproperlyConfigured

MODULE = "server.config.settings.production"
REPO_ROOT = Path(__file__).resolve().parents[3]
STRONG_KEY = "k" * 10 + secrets.token_urlsafe(40)

_VARIABLES = (
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DJANGO_DEBUG",
    "DJANGO_SECURE_COOKIES",
    "DJANGO_HSTS_SECONDS",
    "GRPC_TLS_CERT",
    "GRPC_TLS_KEY",
    "GRPC_TLS_CLIENT_CA",
    "GRPC_ALLOW_INSECURE",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "DJANGO_STATIC_ROOT",
)


def _load(monkeypatch: pytest.MonkeyPatch, **env: str) -> ModuleType:
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop(MODULE, None)
    try:
        return importlib.import_module(MODULE)
    finally:
        sys.modules.pop(MODULE, None)


@pytest.fixture
def tls_files(tmp_path: Path) -> dict[str, str]:
    # The settings only check that these are readable files; grpc parses them when it binds.
    cert, key, ca = tmp_path / "server.crt", tmp_path / "server.key", tmp_path / "clients-ca.crt"
    for path in (cert, key, ca):
        path.write_text("-----BEGIN PLACEHOLDER-----\n")
    return {"cert": str(cert), "key": str(key), "ca": str(ca)}


def _valid_env(tls_files: dict[str, str]) -> dict[str, str]:
    return {
        "DJANGO_SECRET_KEY": STRONG_KEY,
        "DJANGO_ALLOWED_HOSTS": "retail.example.com, localhost",
        "GRPC_TLS_CERT": tls_files["cert"],
        "GRPC_TLS_KEY": tls_files["key"],
    }


def test_valid_environment_gives_secure_settings(
    monkeypatch: pytest.MonkeyPatch, tls_files: dict[str, str]
) -> None:
    settings = _load(monkeypatch, **_valid_env(tls_files), DJANGO_DEBUG="true")
    assert settings.DEBUG is False  # DJANGO_DEBUG is ignored in production
    assert settings.SECRET_KEY == STRONG_KEY
    assert settings.ALLOWED_HOSTS == ["retail.example.com", "localhost"]
    assert settings.SESSION_COOKIE_SECURE is True
    assert settings.CSRF_COOKIE_SECURE is True
    assert settings.SESSION_COOKIE_HTTPONLY is True
    assert settings.SECURE_HSTS_SECONDS >= 31_536_000
    assert settings.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")
    assert settings.SECURE_SSL_REDIRECT is True
    assert r"^api/health$" in settings.SECURE_REDIRECT_EXEMPT
    assert (
        settings.STORAGES["staticfiles"]["BACKEND"]
        == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )
    assert tls_files["cert"] == settings.GRPC_TLS_CERT
    assert settings.GRPC_TLS_CLIENT_CA == ""
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "json"
    assert "server.config.security_headers.ContentSecurityPolicyMiddleware" in settings.MIDDLEWARE
    assert "default-src 'self'" in settings.CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in settings.CONTENT_SECURITY_POLICY  # no inline or remote scripts
    assert settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] == [
        "rest_framework.authentication.SessionAuthentication"
    ]
    assert settings.LOGGING["formatters"]["json"]["()"] == "server.observability.jsonlog.JsonFormatter"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY is required"),
        ({"DJANGO_SECRET_KEY": "insecure-embedded-default-change-me"}, "too weak"),
        ({"DJANGO_SECRET_KEY": "short-key"}, "too weak"),
        ({"DJANGO_SECRET_KEY": "django-insecure-" + "x" * 40}, "too weak"),
        ({"DJANGO_ALLOWED_HOSTS": ""}, "DJANGO_ALLOWED_HOSTS is required"),
        ({"GRPC_TLS_KEY": ""}, "must be set together"),
        (
            {"GRPC_TLS_CERT": "/nonexistent/server.crt"},
            "GRPC_TLS_CERT=/nonexistent/server.crt is not a readable",
        ),
        ({"GRPC_TLS_CERT": "", "GRPC_TLS_KEY": ""}, "no TLS"),
        ({"GRPC_TLS_CERT": "", "GRPC_TLS_KEY": "", "GRPC_TLS_CLIENT_CA": "/x.crt"}, "needs GRPC_TLS_CERT"),
        ({"DJANGO_HSTS_SECONDS": "a year"}, "must be an integer"),
        ({"LOG_LEVEL": "CHATTY"}, "LOG_LEVEL"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ],
)
def test_insecure_or_broken_configuration_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, tls_files: dict[str, str], override: dict[str, str], message: str
) -> None:
    env = {**_valid_env(tls_files), **override}
    with pytest.raises(ImproperlyConfigured, match=message):
        _load(monkeypatch, **{k: v for k, v in env.items() if v != ""})


def test_client_certificates_and_insecure_opt_in(
    monkeypatch: pytest.MonkeyPatch, tls_files: dict[str, str]
) -> None:
    mutual = _load(monkeypatch, **_valid_env(tls_files), GRPC_TLS_CLIENT_CA=tls_files["ca"])
    assert tls_files["ca"] == mutual.GRPC_TLS_CLIENT_CA

    behind_lb = _load(
        monkeypatch,
        DJANGO_SECRET_KEY=STRONG_KEY,
        DJANGO_ALLOWED_HOSTS="localhost",
        GRPC_ALLOW_INSECURE="true",
        DJANGO_SECURE_COOKIES="false",
    )
    assert behind_lb.GRPC_TLS_CERT == ""
    assert behind_lb.SESSION_COOKIE_SECURE is False


def test_django_deploy_checklist_passes(tls_files: dict[str, str], tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k not in _VARIABLES},
        **_valid_env(tls_files),
        "DJANGO_SETTINGS_MODULE": MODULE,
        "RETAIL_DATA_DIR": str(tmp_path / "data"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy", "--tag", "security", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
