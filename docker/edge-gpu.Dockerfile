# syntax=docker/dockerfile:1
# The edge agent for NVIDIA GPUs: CUDA 13 + cuDNN 9 runtime, onnxruntime-gpu >= 1.27 (CUDA execution provider;
# TensorRT is used when its libraries are present, e.g. with CUDA_IMAGE=nvcr.io/nvidia/tensorrt:<tag>-py3).
# Hosts with a driver older than 580 (CUDA 12 only): --build-arg CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04
# --build-arg EDGE_EXTRA=edge-gpu-cuda12. The build fails when onnxruntime-gpu and the image's CUDA disagree.
#
#   docker build -f docker/edge-gpu.Dockerfile -t retail-edge-gpu .     (from the repository root)
#   docker run --rm --gpus all -v /etc/retail-edge:/etc/retail-edge:ro -v retail-edge-state:/var/lib/retail-edge \
#     -v /srv/models:/srv/assets/models:ro retail-edge-gpu run --config /etc/retail-edge/config.yaml
#
# The host needs the NVIDIA driver (>= 580 for CUDA 13) and the NVIDIA Container Toolkit. `retail-edge` logs the execution
# providers it uses at start; "CPUExecutionProvider" alone means the GPU was not reachable.

ARG CUDA_IMAGE=nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04

FROM ${CUDA_IMAGE}
ARG RETAIL_UID=10001
ARG EDGE_EXTRA=edge-gpu
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/retail-edge/venv \
    PATH=/opt/retail-edge/venv/bin:$PATH \
    RETAIL_EDGE_STATE_DIR=/var/lib/retail-edge \
    RETAIL_MODEL_PATH=/srv/assets/models/yolox_nano.onnx \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,video

RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv libgomp1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid "${RETAIL_UID}" retail \
 && useradd --system --uid "${RETAIL_UID}" --gid retail --home-dir /var/lib/retail-edge --shell /usr/sbin/nologin \
      --groups video retail \
 && python3 -m venv /opt/retail-edge/venv \
 && mkdir -p /var/lib/retail-edge /etc/retail-edge \
 && chown retail:retail /var/lib/retail-edge

WORKDIR /opt/retail-edge/app
COPY pyproject.toml README.md ./
COPY proto/ proto/
COPY edge_agent/ edge_agent/
COPY retail_common/ retail_common/
# The edge-gpu extra brings onnxruntime-gpu in place of onnxruntime (both provide the `onnxruntime` module);
# gpu_check fails the build when its CUDA provider cannot find the image's CUDA and cuDNN libraries.
RUN pip install --config-settings editable_mode=compat -e ".[${EDGE_EXTRA}]" \
 && python -m edge_agent.detection.gpu_check
COPY --chmod=0644 docker/edge_healthcheck.py /opt/retail-edge/healthcheck.py

USER ${RETAIL_UID}:${RETAIL_UID}
VOLUME ["/var/lib/retail-edge"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python", "/opt/retail-edge/healthcheck.py"]
ENTRYPOINT ["retail-edge"]
CMD ["run", "--config", "/etc/retail-edge/config.yaml"]
