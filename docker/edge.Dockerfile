# syntax=docker/dockerfile:1
# The edge agent, CPU build (ONNX Runtime CPU execution provider).
#
#   docker build -f docker/edge.Dockerfile -t retail-edge .             (from the repository root)
#   docker run --rm -v /etc/retail-edge:/etc/retail-edge:ro -v retail-edge-state:/var/lib/retail-edge \
#     -v /srv/models:/srv/assets/models:ro retail-edge run --config /etc/retail-edge/config.yaml
#
# The model is not baked in: mount it and point RETAIL_MODEL_PATH (or detector.model_path) at it.
# Credentials and the spool live in /var/lib/retail-edge (a volume); the config is mounted read-only.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE}
ARG RETAIL_UID=10001
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/retail-edge/venv \
    PATH=/opt/retail-edge/venv/bin:$PATH \
    RETAIL_EDGE_STATE_DIR=/var/lib/retail-edge \
    RETAIL_MODEL_PATH=/srv/assets/models/yolox_nano.onnx

# libgomp1: OpenMP runtime used by ONNX Runtime; libglib2.0-0: used by OpenCV's video I/O.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid "${RETAIL_UID}" retail \
 && useradd --system --uid "${RETAIL_UID}" --gid retail --home-dir /var/lib/retail-edge --shell /usr/sbin/nologin \
      --groups video retail \
 && python -m venv /opt/retail-edge/venv \
 && mkdir -p /var/lib/retail-edge /etc/retail-edge \
 && chown retail:retail /var/lib/retail-edge

WORKDIR /opt/retail-edge/app
COPY pyproject.toml README.md ./
COPY proto/ proto/
COPY edge_agent/ edge_agent/
COPY retail_common/ retail_common/
RUN pip install --config-settings editable_mode=compat -e ".[edge]"
COPY --chmod=0644 docker/edge_healthcheck.py /opt/retail-edge/healthcheck.py

USER ${RETAIL_UID}:${RETAIL_UID}
VOLUME ["/var/lib/retail-edge"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python", "/opt/retail-edge/healthcheck.py"]
ENTRYPOINT ["retail-edge"]
CMD ["run", "--config", "/etc/retail-edge/config.yaml"]
