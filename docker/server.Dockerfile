# syntax=docker/dockerfile:1
# The server image: Django ASGI app (dashboard, REST API, WebSockets) + the gRPC ingest server, one process.
#
#   docker build -f docker/server.Dockerfile -t retail-server .          (from the repository root)
#
# Entry point: docker/server-entrypoint.sh runs the migrations (RETAIL_MIGRATE=1, the default), then the command:
#   retail-server run --http 0.0.0.0:8000 --grpc 0.0.0.0:50051 --no-migrate
# Split processes (docs/operations.md): append --no-grpc (web) or --no-http (ingest) to the command.
# No secret is baked in: DJANGO_SECRET_KEY, DATABASE_URL, ... come from the environment at run time.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- the dashboard (Vue 3 + Vite) → static files --------------------------------------------------------------
FROM ${NODE_IMAGE} AS frontend
WORKDIR /src/frontend
COPY frontend/package*.json ./
RUN if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
COPY frontend/ ./
# vite.config writes the build to ../server/web/static/dashboard (served by Django/whitenoise).
RUN mkdir -p /src/server/web/static/dashboard && npm run build

# ---- the Python application -----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS server
ARG RETAIL_UID=10001
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/retail/venv \
    PATH=/opt/retail/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=server.config.settings.production \
    RETAIL_DATA_DIR=/var/lib/retail \
    DJANGO_STATIC_ROOT=/opt/retail/static \
    LOG_FORMAT=json

RUN groupadd --system --gid "${RETAIL_UID}" retail \
 && useradd --system --uid "${RETAIL_UID}" --gid retail --home-dir /var/lib/retail --shell /usr/sbin/nologin retail \
 && python -m venv /opt/retail/venv \
 && mkdir -p /var/lib/retail /var/lib/retail-bootstrap /opt/retail/static \
 && chown retail:retail /var/lib/retail /var/lib/retail-bootstrap

WORKDIR /opt/retail/app
COPY pyproject.toml README.md ./
COPY proto/ proto/
COPY edge_agent/ edge_agent/
COPY retail_common/ retail_common/
COPY server/ server/
COPY --from=frontend /src/server/web/static/dashboard/ server/web/static/dashboard/
# Editable (compat) install: the code runs from /opt/retail/app, so templates and the built dashboard are found
# beside it whatever the wheel's package data lists.
RUN pip install --config-settings editable_mode=compat -e ".[server]"

# Static files are collected at build time with throw-away values (nothing here is used at run time).
RUN DJANGO_SECRET_KEY=collectstatic-at-build-time-only-not-a-runtime-secret-0123456789 \
    DJANGO_ALLOWED_HOSTS=localhost GRPC_ALLOW_INSECURE=true RETAIL_DATA_DIR=/tmp/collectstatic \
    retail-server manage collectstatic --noinput --verbosity 0 \
 && rm -rf /tmp/collectstatic

COPY --chmod=0755 docker/server-entrypoint.sh /usr/local/bin/retail-server-entrypoint
COPY --chmod=0644 docker/healthcheck.py /opt/retail/healthcheck.py
# Used only by docker/compose.yaml's one-shot `bootstrap` service (demo store + edge configs).
COPY --chmod=0644 docker/compose_bootstrap.py /opt/retail/compose_bootstrap.py

USER ${RETAIL_UID}:${RETAIL_UID}
VOLUME ["/var/lib/retail"]
EXPOSE 8000 50051
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "/opt/retail/healthcheck.py"]
ENTRYPOINT ["/usr/local/bin/retail-server-entrypoint"]
CMD ["retail-server", "run", "--http", "0.0.0.0:8000", "--grpc", "0.0.0.0:50051", "--no-migrate"]
