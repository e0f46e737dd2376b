"""Settings shared by every environment, read from the environment.

No variable set = the embedded default: SQLite file, in-memory channel layer, embedded time-series store.
`DATABASE_URL`, `REDIS_URL` and `INFLUX_URL` switch to PostgreSQL, channels-redis and InfluxDB.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
import django_stubs_ext

# Lets admin/queryset classes be subscripted at run time (ModelAdmin[Model]) as they are for the type checker.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent  # server/
REPO_ROOT = BASE_DIR.parent
DATA_DIR = Path(os.environ.get("RETAIL_DATA_DIR", str(REPO_ROOT / "var"))).resolve()


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-embedded-default-change-me")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "channels",
    "server.inventory",
    "server.devices",
    "server.ingest",
    "server.demo",
    "server.insights",
    "server.api",
    "server.audit",
    "server.people",
    "server.alerts",
    "server.web",
    # Last of the project's apps: its post_migrate handler gives the role groups their permissions.
    "server.accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "server.config.urls"
ASGI_APPLICATION = "server.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{DATA_DIR / 'retail.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default serves the ingest's batched writes and the API's writes from one file: WAL lets
    # readers run beside a writer, IMMEDIATE transactions take the write lock up front (no upgrade deadlocks)
    # and the timeout makes a writer wait for the lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 1000, "expiry": 10},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Time series: INFLUX_URL unset = the embedded store (a SQLite file beside the database).
INFLUX_URL = os.environ.get("INFLUX_URL", "")
INFLUX_DB = os.environ.get("INFLUX_DB", "retail")
INFLUX_TOKEN = os.environ.get("INFLUX_TOKEN", "")
INFLUX_ORG = os.environ.get("INFLUX_ORG", "")
INFLUX_BUCKET = os.environ.get("INFLUX_BUCKET", "")
INFLUX_API = os.environ.get(
    "INFLUX_API", "v1"
)  # "v1" (InfluxQL/line protocol, 1.x and 2.x/3.x compat) or "v2"
TIMESERIES_EMBEDDED_PATH = DATA_DIR / "timeseries.sqlite3"

# gRPC ingest
GRPC_BIND = os.environ.get("GRPC_BIND", "127.0.0.1:50051")
GRPC_TLS_CERT = os.environ.get("GRPC_TLS_CERT", "")
GRPC_TLS_KEY = os.environ.get("GRPC_TLS_KEY", "")
GRPC_TLS_CLIENT_CA = os.environ.get("GRPC_TLS_CLIENT_CA", "")
INGEST_MAX_MESSAGE_BYTES = int(os.environ.get("INGEST_MAX_MESSAGE_BYTES", str(256 * 1024)))
INGEST_MAX_PAST_S = int(os.environ.get("INGEST_MAX_PAST_S", str(24 * 3600)))
INGEST_MAX_FUTURE_S = int(os.environ.get("INGEST_MAX_FUTURE_S", "300"))
INGEST_REORDER_WINDOW = int(os.environ.get("INGEST_REORDER_WINDOW", "256"))
INGEST_ACK_INTERVAL_MS = int(os.environ.get("INGEST_ACK_INTERVAL_MS", "200"))
INGEST_AUTH_RECHECK_S = float(os.environ.get("INGEST_AUTH_RECHECK_S", "2"))
# Open streams per device in one process; one more is refused with RESOURCE_EXHAUSTED (the open ones go on).
INGEST_MAX_STREAMS_PER_DEVICE = int(os.environ.get("INGEST_MAX_STREAMS_PER_DEVICE", "2"))
# A stream that sends nothing (heartbeats are due every 10 s), or reads none of its replies, this long is closed.
INGEST_STREAM_IDLE_S = float(os.environ.get("INGEST_STREAM_IDLE_S", "60"))
INGEST_MAX_HEARTBEAT_BYTES = int(os.environ.get("INGEST_MAX_HEARTBEAT_BYTES", str(64 * 1024)))
# Connections are closed after this long (+ GRPC_MAX_CONNECTION_AGE_GRACE_S for open calls; boxes reconnect): the
# only way a call whose client does not read ends on the server's side. 0 = never.
GRPC_MAX_CONNECTION_AGE_S = float(os.environ.get("GRPC_MAX_CONNECTION_AGE_S", "3600"))
GRPC_MAX_CONNECTION_AGE_GRACE_S = float(os.environ.get("GRPC_MAX_CONNECTION_AGE_GRACE_S", "60"))
LIVE_PUSH_HZ = float(os.environ.get("LIVE_PUSH_HZ", "5"))
POSITIONS_SAMPLE_HZ = float(os.environ.get("POSITIONS_SAMPLE_HZ", "1"))
# Fusion + analytics in the ingest process; off = per-camera tracks pushed live, no analytics (ingest-only tiers).
INGEST_SITE_ANALYTICS = env_bool("INGEST_SITE_ANALYTICS", True)
# How far a camera's own frames may arrive out of capture order before fusion drops them as late. Frames of a
# camera share one ordered stream, so 0 by default; each millisecond here adds to the live latency.
FUSION_ARRIVAL_JITTER_MS = float(os.environ.get("FUSION_ARRIVAL_JITTER_MS", "0"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["server.api.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "server.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "server.api.exception_handlers.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"login": "30/min"},
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Retail Vision API",
    "DESCRIPTION": "Inventory, people and access, analytics and alerts of the retail CCTV analytics server.",
    "VERSION": "0.1.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "AlertStateEnum": "server.alerts.models.AlertState",
        "AlertKindEnum": "server.alerts.models.AlertKind",
        "ZoneKindEnum": "server.inventory.models.ZoneKind",
        "BindingSourceEnum": "server.people.models.BindingSource",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
