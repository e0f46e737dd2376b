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
    "server.notifications",
    "server.retention",
    "server.web",
    "server.sales",
    "server.reports",
    # Last of the project's apps: its post_migrate handler gives the role groups their permissions.
    "server.accounts",
]

MIDDLEWARE = [
    "server.api.middleware.ApiErrorMiddleware",  # first: sees every answer under /api/
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "server.config.security_headers.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "server.config.urls"
CSRF_FAILURE_VIEW = "server.api.middleware.csrf_failure"
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
# The channel layer's Redis connections time out instead of waiting forever on a Redis that accepts and never
# answers. The read timeout must stay above channels-redis' blocking receive (BZPOPMIN with
# RedisChannelLayer.brpop_timeout = 5 s, read under the same socket timeout), or idle WebSocket consumers would
# fail every receive.
CHANNEL_REDIS_SOCKET_TIMEOUT_S = float(os.environ.get("CHANNEL_REDIS_SOCKET_TIMEOUT_S", "8"))
CHANNEL_REDIS_CONNECT_TIMEOUT_S = float(os.environ.get("CHANNEL_REDIS_CONNECT_TIMEOUT_S", "3"))
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": CHANNEL_REDIS_SOCKET_TIMEOUT_S,
                        "socket_connect_timeout": CHANNEL_REDIS_CONNECT_TIMEOUT_S,
                        "socket_keepalive": True,
                        "health_check_interval": 30,
                    }
                ],
                "capacity": 1000,
                "expiry": 10,
            },
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
# How often an open WebSocket re-checks its session, permission and site (closes when one is gone).
WS_AUTH_RECHECK_S = float(os.environ.get("WS_AUTH_RECHECK_S", "5"))
# Longest a WebSocket connect waits to join its site's groups on the channel layer (Redis) before closing 1011.
WS_JOIN_TIMEOUT_S = float(os.environ.get("WS_JOIN_TIMEOUT_S", "5"))
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
# Longest wait for one push to the channel layer (one in flight per site; newer states replace a waiting one).
LIVE_PUSH_TIMEOUT_S = float(os.environ.get("LIVE_PUSH_TIMEOUT_S", "2"))
POSITIONS_SAMPLE_HZ = float(os.environ.get("POSITIONS_SAMPLE_HZ", "1"))
# How late a badge read may arrive and still be bound against the positions of its own time; the live state keeps
# that much position history (server.livestate).
BADGE_MAX_DELAY_S = float(os.environ.get("BADGE_MAX_DELAY_S", "30"))
# Fusion + analytics in the ingest process; off = per-camera tracks pushed live, no analytics (ingest-only tiers).
INGEST_SITE_ANALYTICS = env_bool("INGEST_SITE_ANALYTICS", True)
# Scale-out bus (docs/operations.md, section 5): unset = embedded, every frame is fused in the process that took it.
# Set (nats://host:4222, comma-separated for a cluster) = gateways publish each accepted TrackFrame to the JetStream
# stream RETAIL_BUS_STREAM (subjects retail.frames.<site_id>) and `retail-server worker` processes fuse the sites.
RETAIL_BUS_URL = os.environ.get("RETAIL_BUS_URL", "").strip()
RETAIL_BUS_STREAM = os.environ.get("RETAIL_BUS_STREAM", "RETAIL_FRAMES").strip() or "RETAIL_FRAMES"
# Copies of the stream JetStream keeps (3 in the cluster profile; at most the number of NATS nodes).
RETAIL_BUS_REPLICAS = int(os.environ.get("RETAIL_BUS_REPLICAS", "1"))
# A worker that stops pulling a site for this long loses it to another worker (JetStream's pinned-client timeout).
RETAIL_WORKER_PIN_TTL_S = float(os.environ.get("RETAIL_WORKER_PIN_TTL_S", "5"))
# A worker whose site lags behind by more than this (capture time of the frame it applies) sheds that site's live
# pushes (analytics and records go on) and reports health `worker` degraded.
RETAIL_WORKER_MAX_LAG_S = float(os.environ.get("RETAIL_WORKER_MAX_LAG_S", "5"))
# How far a camera's own frames may arrive out of capture order before fusion drops them as late. Frames of a
# camera share one ordered stream, so 0 by default; each millisecond here adds to the live latency.
FUSION_ARRIVAL_JITTER_MS = float(os.environ.get("FUSION_ARRIVAL_JITTER_MS", "0"))

# The Django cache: shared by every process through Redis when REDIS_URL is set (login limits, DRF throttles).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "retail",
            # A Redis that does not answer (partition, stopped host) fails a request in seconds (503) instead of
            # holding it for the kernel's TCP timeout: every login reads its limits here.
            "OPTIONS": {"socket_timeout": 2.0, "socket_connect_timeout": 2.0},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The largest HTTP request body of any kind, refused (413) before it is read (server.config.body_limit): a floor
# plan image (20 MiB) and its form. DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) bounds the non-file data within it.
REQUEST_MAX_BYTES = int(os.environ.get("DJANGO_REQUEST_MAX_BYTES", str(21 * 1024 * 1024)))

# Every password check (dashboard login, Django admin login) goes through the limits of server.accounts.throttle.
AUTHENTICATION_BACKENDS = ["server.accounts.backends.ThrottledModelBackend"]
AUTH_ACCOUNT_MAX_FAILURES = int(os.environ.get("AUTH_ACCOUNT_MAX_FAILURES", "10"))
AUTH_ACCOUNT_LOCKOUT_S = int(os.environ.get("AUTH_ACCOUNT_LOCKOUT_S", "900"))
AUTH_CLIENT_MAX_FAILURES = int(os.environ.get("AUTH_CLIENT_MAX_FAILURES", "20"))
AUTH_CLIENT_WINDOW_S = int(os.environ.get("AUTH_CLIENT_WINDOW_S", "300"))
# Reverse proxies in front of the web process that append to X-Forwarded-For (0 = use the peer address).
AUTH_NUM_PROXIES = int(os.environ.get("DJANGO_NUM_PROXIES", "0"))

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
    # Session + CSRF only: no HTTP Basic (it sent a password with every request and bypassed the login form).
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["server.api.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "server.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": [
        "server.api.permissions.SiteFilterBackend",  # per-site permissions (server.accounts.sites)
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "server.api.exception_handlers.api_exception_handler",
    # JSON only: the browsable API answered HTML pages under /api/ to every browser that asked for text/html.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # report_send: "send now" of one report schedule by one user; report_send_user: all of a user's (e-mails).
    "DEFAULT_THROTTLE_RATES": {"login": "30/min", "report_send": "5/hour", "report_send_user": "20/hour"},
    # 0 = the peer address; None would make DRF key its throttles on the client's own X-Forwarded-For (spoofable).
    "NUM_PROXIES": AUTH_NUM_PROXIES,
    "DEFAULT_PARSER_CLASSES": [
        "server.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Retail Vision API",
    "DESCRIPTION": "Inventory, people and access, analytics and alerts of the retail CCTV analytics server.",
    "VERSION": "0.1.0",
    # The schema and Swagger UI need a login like the API they describe (docs/api.md).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "server.api.schema.document_error_responses",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "AlertStateEnum": "server.alerts.models.AlertState",
        "AlertKindEnum": "server.alerts.models.AlertKind",
        "ZoneKindEnum": "server.inventory.models.ZoneKind",
        "BindingSourceEnum": "server.people.models.BindingSource",
    },
}

# Content-Security-Policy of every answer (server.config.security_headers); DJANGO_CSP="" = none. The dashboard
# (Vite build: module scripts and styles from /static/, a Konva canvas, a WebSocket to the same origin) needs only
# its own origin; inline styles stay allowed for style attributes (Vue, Konva, the Django admin).
CONTENT_SECURITY_POLICY = os.environ.get(
    "DJANGO_CSP",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'",
)
# Swagger UI at /api/docs/ loads its scripts and styles from this CDN.
API_DOCS_CDN = "https://cdn.jsdelivr.net"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}


# ---- Notifications out (server.notifications; docs/admin-guide.md, "Notifications") -------------------------
# The dispatcher thread runs in every server process (several may: rows are claimed with SKIP LOCKED).
NOTIFY_DISPATCHER = env_bool("NOTIFY_DISPATCHER", True)
NOTIFY_POLL_S = float(os.environ.get("NOTIFY_POLL_S", "1"))
NOTIFY_MAX_ATTEMPTS = int(os.environ.get("NOTIFY_MAX_ATTEMPTS", "8"))
NOTIFY_RETRY_BASE_S = float(os.environ.get("NOTIFY_RETRY_BASE_S", "5"))
NOTIFY_RETRY_MAX_S = float(os.environ.get("NOTIFY_RETRY_MAX_S", "3600"))
NOTIFY_TIMEOUT_S = float(os.environ.get("NOTIFY_TIMEOUT_S", "10"))
NOTIFY_LANES = int(os.environ.get("NOTIFY_LANES", "4"))  # receivers the dispatcher sends to at the same time
# Webhooks to loopback, private, link-local (cloud metadata) or other non-public addresses are refused unless
# this is true (receivers inside your network): docs/security.md, "Outbound connections".
NOTIFY_WEBHOOK_ALLOW_PRIVATE = env_bool("NOTIFY_WEBHOOK_ALLOW_PRIVATE", False)
MQTT_URL = os.environ.get("MQTT_URL", "")  # mqtt://user:password@host:1883 (mqtts:// for TLS); empty: no MQTT
MQTT_TOPIC_PREFIX = os.environ.get("MQTT_TOPIC_PREFIX", "retail")
MQTT_CLIENT_ID = os.environ.get("MQTT_CLIENT_ID", "")
MQTT_STATE_INTERVAL_S = float(os.environ.get("MQTT_STATE_INTERVAL_S", "5"))
MQTT_HA_DISCOVERY = env_bool("MQTT_HA_DISCOVERY", False)
MQTT_HA_DISCOVERY_PREFIX = os.environ.get("MQTT_HA_DISCOVERY_PREFIX", "homeassistant")

# Outgoing e-mail (scheduled reports and alert e-mails of notification rules): an SMTP server. Nothing set:
# localhost:25, no login.
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)  # STARTTLS
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)  # implicit TLS (port 465)
EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT_S", "30"))
DEFAULT_FROM_EMAIL = os.environ.get("EMAIL_FROM") or os.environ.get(
    "DEFAULT_FROM_EMAIL", "retail-vision@localhost"
)
# How often the server's runtime looks for due scheduled reports (0: never; then run `manage.py run_reports`).
REPORTS_CHECK_INTERVAL_S = float(os.environ.get("REPORTS_CHECK_INTERVAL_S", "60"))

# ---- Retention and privacy (server.retention; docs/privacy.md, "What the server keeps") ------------------
# Days each data class is kept (0: for ever); the purge runs every RETENTION_PURGE_INTERVAL_S (0: only by
# `retail-server manage purge`).
RETENTION_POSITIONS_DAYS = int(os.environ.get("RETENTION_POSITIONS_DAYS", "30"))
RETENTION_TIMESERIES_DAYS = int(os.environ.get("RETENTION_TIMESERIES_DAYS", "400"))
RETENTION_VISITS_DAYS = int(os.environ.get("RETENTION_VISITS_DAYS", "400"))
RETENTION_HEATMAPS_DAYS = int(os.environ.get("RETENTION_HEATMAPS_DAYS", "400"))
RETENTION_BINDINGS_DAYS = int(os.environ.get("RETENTION_BINDINGS_DAYS", "90"))
RETENTION_SNAPSHOTS_DAYS = int(os.environ.get("RETENTION_SNAPSHOTS_DAYS", "30"))
RETENTION_ALERTS_DAYS = int(os.environ.get("RETENTION_ALERTS_DAYS", "365"))
RETENTION_AUDIT_DAYS = int(os.environ.get("RETENTION_AUDIT_DAYS", "730"))
RETENTION_DELIVERIES_DAYS = int(os.environ.get("RETENTION_DELIVERIES_DAYS", "30"))
RETENTION_PURGE_INTERVAL_S = float(os.environ.get("RETENTION_PURGE_INTERVAL_S", "3600"))
# Heat maps: a cell is shown only when the range had at least this many distinct visitors and the cell at least
# PRIVACY_MIN_CELL_PERSON_S person-seconds per such visitor (docs/privacy.md, "Small counts in heat maps").
PRIVACY_MIN_PERSONS = int(os.environ.get("PRIVACY_MIN_PERSONS", "3"))
PRIVACY_MIN_CELL_PERSON_S = float(os.environ.get("PRIVACY_MIN_CELL_PERSON_S", "1"))
