#!/usr/bin/env bash
# Install or upgrade the Retail Vision edge agent on a Debian/Ubuntu edge box (run as root).
#
#   sudo deploy/edge/install.sh [--source DIR|WHEEL] [--gpu|--gpu-cuda12] [--model FILE] [--no-restart] [--dry-run]
#
#   --source   the project checkout or a built wheel (default: the checkout this script is in)
#   --gpu      install onnxruntime-gpu for CUDA 13 (NVIDIA driver >= 580, CUDA 13 + cuDNN 9 libraries on the box)
#   --gpu-cuda12  the same for CUDA 12 (driver 525-579: onnxruntime-gpu 1.19-1.26)
#   --model    copy this ONNX person detector to /opt/retail-edge/models/ (e.g. yolox_nano.onnx)
#   --no-restart  do not restart a running agent after an upgrade
#   --dry-run  print what would be done, change nothing
#
# What it does (idempotent; running it again with a newer --source is the upgrade path):
#   - system user retail-edge (no login shell; member of video/render for USB cameras and GPUs);
#   - a new virtual environment /opt/retail-edge/releases/<timestamp>, then /opt/retail-edge/venv is switched
#     to it atomically (a symlink); the two previous releases stay for `--rollback`;
#   - /etc/retail-edge/config.yaml from the commented template if there is none (never overwritten), and
#     /etc/retail-edge/environment; /var/lib/retail-edge (0700) for credentials and the spool;
#   - the systemd unit retail-edge.service and /etc/logrotate.d/retail-edge;
#   - restarts the agent if it was running (upgrade), otherwise prints the enroll → run steps.
#
#   sudo deploy/edge/install.sh --rollback     # switch back to the previous release and restart
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
PREFIX="${RETAIL_EDGE_PREFIX:-/opt/retail-edge}"
CONFIG_DIR="${RETAIL_EDGE_CONFIG_DIR:-/etc/retail-edge}"
STATE_DIR="${RETAIL_EDGE_STATE_DIR:-/var/lib/retail-edge}"
UNIT_DIR="${RETAIL_EDGE_UNIT_DIR:-/etc/systemd/system}"
LOGROTATE_DIR="${RETAIL_EDGE_LOGROTATE_DIR:-/etc/logrotate.d}"
SERVICE_USER=retail-edge
PYTHON="${PYTHON:-python3}"
KEEP_RELEASES=3

SOURCE="$REPO_ROOT"
EXTRA=edge
MODEL=""
RESTART=1
DRY_RUN=0
ROLLBACK=0

say() { echo "[retail-edge install] $*"; }
die() { echo "[retail-edge install] error: $*" >&2; exit 1; }
run() {  # run a command, or print it under --dry-run
  if [ "$DRY_RUN" = 1 ]; then echo "would run: $*"; else "$@"; fi
}

while [ $# -gt 0 ]; do
  case "$1" in
    --source) SOURCE="${2:?--source needs a path}"; shift 2 ;;
    --gpu) EXTRA=edge-gpu; shift ;;
    --gpu-cuda12) EXTRA=edge-gpu-cuda12; shift ;;
    --model) MODEL="${2:?--model needs a file}"; shift 2 ;;
    --no-restart) RESTART=0; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --rollback) ROLLBACK=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then die "run as root (sudo $0 $*)"; fi
command -v systemctl >/dev/null 2>&1 || [ "$DRY_RUN" = 1 ] || die "systemd is required"

rollback() {
  local current previous
  current="$(readlink -f "$PREFIX/venv" || true)"
  previous="$(find "$PREFIX/releases" -mindepth 1 -maxdepth 1 -type d | sort | grep -v -x "$current" | tail -n 1 || true)"
  [ -n "$previous" ] || die "no previous release under $PREFIX/releases"
  say "switching $PREFIX/venv from $current to $previous"
  run ln -sfn "$previous" "$PREFIX/venv.new"
  run mv -T "$PREFIX/venv.new" "$PREFIX/venv"
  run systemctl restart retail-edge.service
  exit 0
}
[ "$ROLLBACK" = 1 ] && rollback

# --- Python ---------------------------------------------------------------------------------------------------
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  die "Python >= 3.11 is required ($PYTHON: $("$PYTHON" --version 2>&1 || echo missing)); set PYTHON=/path/to/python3.11"
fi
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
  say "installing python3-venv"
  run apt-get update -q
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
fi
[ -e "$SOURCE" ] || die "--source $SOURCE does not exist"
[ -z "$MODEL" ] || [ -f "$MODEL" ] || die "--model $MODEL is not a file"

# --- user and directories --------------------------------------------------------------------------------------
if ! id "$SERVICE_USER" >/dev/null 2>&1; then
  say "creating system user $SERVICE_USER"
  run useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
fi
for group in video render; do
  if getent group "$group" >/dev/null 2>&1; then run usermod -a -G "$group" "$SERVICE_USER"; fi
done
run install -d -m 0755 "$PREFIX" "$PREFIX/releases" "$PREFIX/models" "$PREFIX/docs"
run install -d -m 0750 -o root -g "$SERVICE_USER" "$CONFIG_DIR"
run install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR"
run install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" /var/log/retail-edge

# --- a new release, switched to atomically -----------------------------------------------------------------------
RELEASE="$PREFIX/releases/$(date -u +%Y%m%dT%H%M%SZ)"
say "installing .[$EXTRA] from $SOURCE into $RELEASE"
run "$PYTHON" -m venv "$RELEASE"
run "$RELEASE/bin/pip" install --quiet --upgrade pip
run "$RELEASE/bin/pip" install --quiet "${SOURCE}[${EXTRA}]"  # a checkout or a wheel, with its extra
run "$RELEASE/bin/retail-edge" --help >/dev/null
if [ "$EXTRA" != edge ]; then  # onnxruntime falls back to the CPU without a word when CUDA libraries are missing
  if [ "$DRY_RUN" = 1 ]; then
    echo "would run: $RELEASE/bin/python -m edge_agent.detection.gpu_check --driver"
  elif ! "$RELEASE/bin/python" -m edge_agent.detection.gpu_check --driver; then  # a host: the driver too
    say "WARNING: the detector cannot use the GPU (above); the agent will run on the CPU until this is fixed"
  fi
fi
if [ -f "$REPO_ROOT/docs/installer-guide.md" ]; then
  run install -m 0644 "$REPO_ROOT/docs/installer-guide.md" "$PREFIX/docs/installer-guide.md"
fi
if [ -n "$MODEL" ]; then
  run install -m 0644 "$MODEL" "$PREFIX/models/$(basename "$MODEL")"
fi

# --- configuration (never overwritten) ------------------------------------------------------------------------------
if [ ! -f "$CONFIG_DIR/config.yaml" ]; then
  say "writing $CONFIG_DIR/config.yaml from the template: set uplink.server before enrolling"
  run install -m 0640 -o root -g "$SERVICE_USER" "$SCRIPT_DIR/config.example.yaml" "$CONFIG_DIR/config.yaml"
else
  say "keeping $CONFIG_DIR/config.yaml"
fi
if [ ! -f "$CONFIG_DIR/environment" ]; then
  run install -m 0640 -o root -g "$SERVICE_USER" "$SCRIPT_DIR/environment.example" "$CONFIG_DIR/environment"
fi
say "checking $CONFIG_DIR/config.yaml"
run "$RELEASE/bin/python" -c 'import sys; from pathlib import Path; from edge_agent.config import load_settings; load_settings(Path(sys.argv[1]))' "$CONFIG_DIR/config.yaml"

# --- switch, units, restart ---------------------------------------------------------------------------------------
run ln -sfn "$RELEASE" "$PREFIX/venv.new"
run mv -T "$PREFIX/venv.new" "$PREFIX/venv"
run install -m 0644 "$REPO_ROOT/deploy/systemd/retail-edge.service" "$UNIT_DIR/retail-edge.service"
run install -m 0644 "$REPO_ROOT/deploy/logrotate/retail-edge" "$LOGROTATE_DIR/retail-edge"
run systemctl daemon-reload

# Keep the newest releases only (the one just installed and the previous ones for --rollback).
if [ -d "$PREFIX/releases" ]; then
  find "$PREFIX/releases" -mindepth 1 -maxdepth 1 -type d | sort | head -n "-$KEEP_RELEASES" | while read -r old; do
    run rm -rf "$old"
  done
fi

if systemctl is-active --quiet retail-edge.service 2>/dev/null; then
  if [ "$RESTART" = 1 ]; then
    say "restarting the running agent on the new release"
    run systemctl restart retail-edge.service
  else
    say "the agent still runs the previous release until: systemctl restart retail-edge"
  fi
elif [ -f "$STATE_DIR/credentials.json" ]; then
  say "enrolled already; starting the agent"
  run systemctl enable --now retail-edge.service
else
  cat <<EOF
[retail-edge install] installed. Next steps (docs/installer-guide.md):
  1. edit $CONFIG_DIR/config.yaml: uplink.server, uplink.tls / root_cert, detector.model_path
  2. sudo -u $SERVICE_USER $PREFIX/venv/bin/retail-edge enroll --config $CONFIG_DIR/config.yaml \\
         --server <server>:50051 --token <one-time token from the dashboard>
  3. sudo systemctl enable --now retail-edge
  4. tail -f /var/log/retail-edge/agent.log
EOF
fi
