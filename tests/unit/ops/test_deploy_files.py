"""deploy/: systemd units, log rotation, the edge config template and the edge install script."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.config import AgentSettings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[3]
DEPLOY = REPO_ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """systemd unit → {section: {key: [values...]}} (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: key outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=value: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_the_expected_units_exist() -> None:
    names = {unit.name for unit in UNITS}
    assert {
        "retail-edge.service",
        "retail-server.service",
        "retail-server-migrate.service",
        "retail-server-web@.service",
        "retail-server-ingest@.service",
    } <= names


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_units_run_unprivileged_with_an_environment_file(unit: Path) -> None:
    sections = parse_unit(unit)
    assert {"Unit", "Service"} <= set(sections)
    service = sections["Service"]
    assert service["User"][0] not in {"root", "0"}
    assert service["EnvironmentFile"], "no EnvironmentFile="
    assert service["NoNewPrivileges"] == ["yes"]
    assert service["ProtectSystem"] == ["strict"]
    exec_start = service["ExecStart"][0].split()
    assert exec_start[0].startswith("/opt/retail-")
    assert exec_start[0].endswith(("/bin/retail-edge", "/bin/retail-server"))


@pytest.mark.parametrize("unit", [u for u in UNITS if "migrate" not in u.name], ids=lambda p: p.name)
def test_long_running_units_restart_forever(unit: Path) -> None:
    sections = parse_unit(unit)
    assert sections["Service"]["Restart"] == ["always"]
    assert float(sections["Service"]["RestartSec"][0]) > 0
    assert sections["Unit"]["StartLimitIntervalSec"] == ["0"]
    assert sections["Install"]["WantedBy"] == ["multi-user.target"]


def test_edge_unit_keeps_state_private_and_logs_where_logrotate_looks() -> None:
    service = parse_unit(DEPLOY / "systemd" / "retail-edge.service")["Service"]
    assert service["StateDirectory"] == ["retail-edge"]
    assert service["StateDirectoryMode"] == ["0700"]
    assert service["ExecStart"] == [
        "/opt/retail-edge/venv/bin/retail-edge run --config /etc/retail-edge/config.yaml"
    ]
    log_file = service["StandardOutput"][0].removeprefix("append:")
    logrotate = (DEPLOY / "logrotate" / "retail-edge").read_text(encoding="utf-8")
    assert log_file.startswith("/var/log/retail-edge/")
    assert "/var/log/retail-edge/*.log {" in logrotate
    for directive in ("copytruncate", "rotate 14", "compress", "su retail-edge retail-edge"):
        assert directive in logrotate


@pytest.mark.parametrize(("kind", "flag"), [("web", "--no-grpc"), ("ingest", "--no-http")])
def test_split_units_run_one_role_each_after_the_migration(kind: str, flag: str) -> None:
    sections = parse_unit(DEPLOY / "systemd" / f"retail-server-{kind}@.service")
    exec_start = sections["Service"]["ExecStart"][0]
    assert flag in exec_start
    assert "--no-migrate" in exec_start
    assert "%i" in exec_start
    assert sections["Unit"]["Requires"] == ["retail-server-migrate.service"]


def test_edge_config_template_is_valid_and_commented() -> None:
    template = DEPLOY / "edge" / "config.example.yaml"
    settings = load_settings(template)
    assert isinstance(settings, AgentSettings)
    assert settings.state_dir == Path("/var/lib/retail-edge")
    assert settings.uplink.tls is True
    assert settings.uplink.device_secret is None  # credentials come from `retail-edge enroll`
    text = template.read_text(encoding="utf-8")
    comment_lines = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert len(comment_lines) >= 30
    # every section of the settings model is present in the template
    for section in ("uplink", "detector", "tracker", "spool", "cameras", "state_dir", "log_level"):
        assert f"\n{section}:" in text


def test_commented_camera_example_in_the_template_is_valid_too() -> None:
    text = (DEPLOY / "edge" / "config.example.yaml").read_text(encoding="utf-8")
    start = text.index("# cameras:\n")
    example = "\n".join(
        line.replace("# ", "", 1) for line in text[start:].splitlines() if line.startswith("# ")
    )
    import yaml

    document = yaml.safe_load(example)
    document["cameras"][0]["homography_px_to_cm"] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    settings = AgentSettings.model_validate(document)
    assert settings.cameras[0].source.startswith("rtsp://")


def test_install_script_dry_run_plans_user_venv_config_units() -> None:
    bash = shutil.which("bash")
    assert bash is not None
    result = subprocess.run(
        [bash, str(DEPLOY / "edge" / "install.sh"), "--dry-run", "--gpu"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    plan = result.stdout
    assert "useradd --system" in plan or "creating system user" not in plan
    assert "install -d -m 0700 -o retail-edge -g retail-edge /var/lib/retail-edge" in plan
    assert "[edge-gpu]" in plan
    assert "would run: /opt/retail-edge/releases/" in plan
    assert "-m edge_agent.detection.gpu_check --driver" in plan  # a host has no Container Toolkit to mount it
    assert "/opt/retail-edge/releases/" in plan
    assert "mv -T /opt/retail-edge/venv.new /opt/retail-edge/venv" in plan
    assert "/etc/systemd/system/retail-edge.service" in plan
    assert "/etc/logrotate.d/retail-edge" in plan
    assert "retail-edge enroll" in plan


def _dry_run(option: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(DEPLOY / "edge" / "install.sh"), "--dry-run", option],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
    )


def test_install_script_has_a_cuda_12_variant() -> None:
    result = _dry_run("--gpu-cuda12")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[edge-gpu-cuda12]" in result.stdout
    assert "-m edge_agent.detection.gpu_check" in result.stdout


def test_install_script_refuses_unknown_options() -> None:
    result = _dry_run("--frobnicate")
    assert result.returncode != 0
    assert "unknown option --frobnicate" in result.stderr
