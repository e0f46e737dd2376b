"""docker/: the compose file, the Dockerfiles and the helper scripts they copy, parsed and cross-checked."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.ops.dockerfile import copied_sources, instructions

REPO_ROOT = Path(__file__).resolve().parents[3]
DOCKER = REPO_ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
DOCKERFILES = sorted(DOCKER.glob("*.Dockerfile"))


def _compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def test_compose_has_the_services_of_the_product() -> None:
    services = _compose()["services"]
    assert {"postgres", "influxdb", "redis", "server", "bootstrap", "edge-1", "edge-2"} <= set(services)
    assert services["influxdb"]["image"].startswith("influxdb:2")
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


@pytest.mark.parametrize("service", ["postgres", "influxdb", "redis", "server", "edge-1", "edge-2"])
def test_long_running_services_have_health_checks_and_restart(service: str) -> None:
    spec = _compose()["services"][service]
    test = spec["healthcheck"]["test"]
    assert test[0] in {"CMD", "CMD-SHELL"}
    assert len(test) >= 2
    assert spec["restart"] == "unless-stopped"


def test_server_waits_for_healthy_dependencies_and_edges_for_server_and_bootstrap() -> None:
    services = _compose()["services"]
    server_deps = services["server"]["depends_on"]
    assert {name: dep["condition"] for name, dep in server_deps.items()} == {
        "postgres": "service_healthy",
        "redis": "service_healthy",
        "influxdb": "service_healthy",
    }
    for edge in ("edge-1", "edge-2"):
        deps = services[edge]["depends_on"]
        assert deps["server"]["condition"] == "service_healthy"
        assert deps["bootstrap"]["condition"] == "service_completed_successfully"


def test_data_lives_in_named_volumes() -> None:
    compose = _compose()
    declared = set(compose["volumes"])
    mounts = {
        "postgres": "/var/lib/postgresql/data",
        "influxdb": "/var/lib/influxdb2",
        "server": "/var/lib/retail",
        "edge-1": "/var/lib/retail-edge",
        "edge-2": "/var/lib/retail-edge",
    }
    for service, target in mounts.items():
        volumes = [v.split(":") for v in compose["services"][service]["volumes"]]
        named = {source for source, mount_target, *_ in volumes if mount_target == target}
        assert named, f"{service} has no volume at {target}"
        assert named <= declared


def test_edges_mount_the_shared_assets_read_only() -> None:
    for edge in ("edge-1", "edge-2"):
        volumes = _compose()["services"][edge]["volumes"]
        assets = [v for v in volumes if ":/srv/assets" in v]
        assert assets == ["${RETAIL_ASSETS_DIR:-../../shared/assets}:/srv/assets:ro"]
    assert (DOCKER / "../../shared/assets").resolve() == (REPO_ROOT.parent / "shared" / "assets").resolve()


_SECRET_NAMES = re.compile(r"(PASSWORD|SECRET|TOKEN)")


def test_no_secret_is_written_into_the_compose_file() -> None:
    """Every secret-looking variable is interpolated from docker/.env, and required ones fail loudly."""
    text = COMPOSE.read_text(encoding="utf-8")
    compose = _compose()
    for service in compose["services"].values():
        environment = service.get("environment", {})
        for name, value in environment.items():
            if _SECRET_NAMES.search(name) and value:
                assert str(value).startswith("${"), f"{name} must come from docker/.env, got {value!r}"
    for required in ("DJANGO_SECRET_KEY", "POSTGRES_PASSWORD", "INFLUXDB_TOKEN", "INFLUXDB_ADMIN_PASSWORD"):
        assert re.search(r"\$\{" + required + r":\?", text), f"{required} must be required (:?)"


def test_env_example_names_every_variable_the_compose_file_uses() -> None:
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text(encoding="utf-8")))
    used |= set(re.findall(r"\$\{([A-Z0-9_]+)", (DOCKER / "compose.gpu.yaml").read_text(encoding="utf-8")))
    example = (DOCKER / ".env.example").read_text(encoding="utf-8")
    defined = set(re.findall(r"^([A-Z0-9_]+)=", example, flags=re.MULTILINE))
    assert used - defined == set()
    assert "docker/.env" in (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8")
    assert (DOCKER / ".gitignore").read_text(encoding="utf-8").splitlines()[-1] == ".env"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_copies_only_files_that_exist(dockerfile: Path) -> None:
    sources = copied_sources(dockerfile.read_text(encoding="utf-8"))
    assert sources, "no COPY instruction found"
    for source in sources:
        if source.startswith("frontend/"):
            assert (REPO_ROOT / "frontend").is_dir()
            continue
        matches = list(REPO_ROOT.glob(source.rstrip("/"))) if "*" in source else [REPO_ROOT / source]
        assert any(m.exists() for m in matches), f"{dockerfile.name}: COPY {source} does not exist"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_runs_as_non_root_with_a_health_check(dockerfile: Path) -> None:
    parsed = instructions(dockerfile.read_text(encoding="utf-8"))
    users = [args for name, args in parsed if name == "USER"]
    assert users, "no USER instruction"
    assert users[-1] not in {"root", "0", "0:0"}
    assert any(name == "HEALTHCHECK" for name, _ in parsed)
    # nothing secret set at build time
    for name, args in parsed:
        if name in {"ENV", "ARG"}:
            assert not re.search(r"(SECRET_KEY|PASSWORD|TOKEN)\s*=", args), args


def test_server_image_builds_the_frontend_and_runs_migrations_then_the_server() -> None:
    text = (DOCKER / "server.Dockerfile").read_text(encoding="utf-8")
    parsed = instructions(text)
    assert sum(1 for name, _ in parsed if name == "FROM") == 2  # node stage + python stage
    assert "npm run build" in text
    assert "collectstatic" in text
    assert 'pip install --config-settings editable_mode=compat -e ".[server]"' in text
    cmd = next(args for name, args in reversed(parsed) if name == "CMD")
    assert '"retail-server", "run", "--http", "0.0.0.0:8000", "--grpc", "0.0.0.0:50051"' in cmd
    entrypoint = (DOCKER / "server-entrypoint.sh").read_text(encoding="utf-8")
    assert "retail-server manage migrate --noinput" in entrypoint
    assert entrypoint.rstrip().endswith('exec "$@"')
    # the frontend build output the image copies is where vite writes it
    vite = (REPO_ROOT / "frontend" / "vite.config.ts").read_text(encoding="utf-8")
    assert "../server/web/static/dashboard" in vite
    assert "COPY --from=frontend /src/server/web/static/dashboard/" in text


def test_gpu_image_uses_cuda_and_onnxruntime_gpu() -> None:
    text = (DOCKER / "edge-gpu.Dockerfile").read_text(encoding="utf-8")
    # onnxruntime-gpu >= 1.27 is built for CUDA 13: a CUDA 12 image made it fall back to the CPU silently.
    assert re.search(r"ARG CUDA_IMAGE=nvidia/cuda:13[.\d]*-cudnn-runtime", text)
    assert "ARG EDGE_EXTRA=edge-gpu\n" in text
    assert '".[${EDGE_EXTRA}]"' in text
    assert "python -m edge_agent.detection.gpu_check" in text
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"onnxruntime-gpu>=1.27"' in pyproject
    # ... and < 1.19 for CUDA 11 + cuDNN 8 (1.18.1's CUDA provider needs libcudart.so.11.0 and libcudnn.so.8).
    assert '"onnxruntime-gpu>=1.19,<1.27"' in pyproject
    cpu = (DOCKER / "edge.Dockerfile").read_text(encoding="utf-8")
    assert '".[edge]"' in cpu


def test_lint_script_passes() -> None:
    """scripts/lint_docker.sh: compose config, hadolint, shellcheck where installed; YAML always."""
    bash = shutil.which("bash")
    assert bash is not None
    result = subprocess.run(
        [bash, "scripts/lint_docker.sh"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout
    assert "ok    yaml: docker/compose.yaml" in result.stdout
