"""The command line's grammar → typed command → settings: each flag lands in its settings field, the file's values
give way to the flags, and a value of the wrong kind is a one-line error, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.cli import EXIT_BAD_INPUT, build_settings, main, parse_command_line
from edge_agent.cli.grammar import (
    AgentOptions,
    BenchCommand,
    CalibrateCommand,
    EnrollCommand,
    ProbeCommand,
    RunCommand,
)
from edge_agent.config import AgentSettings
from edge_agent.errors import ConfigError
from edge_agent.transport.credentials import SECRET_ENV


def _run_options(*argv: str) -> AgentOptions:
    command = parse_command_line(["run", *argv]).command
    assert isinstance(command, RunCommand)
    return command.options


def test_each_command_parses_into_its_typed_command() -> None:
    line = parse_command_line(["--log-level", "DEBUG", "run", "--max-frames", "5", "--credentials", "c.json"])
    assert line.log_level == "DEBUG"
    assert line.command == RunCommand(
        options=AgentOptions(), credentials=Path("c.json"), max_seconds=None, max_frames=5, drain_s=10.0
    )
    enroll = parse_command_line(["enroll", "--server", "h:1", "--token", "t", "--tls"]).command
    assert enroll == EnrollCommand(options=AgentOptions(server="h:1", tls=True), server="h:1", token="t")
    assert parse_command_line(["probe", "cam.avi", "--json"]).command == ProbeCommand(
        source="cam.avi", frames=200, seconds=10.0, json=True
    )
    calibrate = parse_command_line(
        ["calibrate", "--pair", "0,0:0,0", "--pair", "1,0:1,0", "--floor-unit", "m"]
    )
    assert calibrate.command == CalibrateCommand(
        pairs=("0,0:0,0", "1,0:1,0"), pairs_file=None, floor_unit="m", json=False
    )
    bench = parse_command_line(["bench", "--source", "v.avi", "--repeats", "3"]).command
    assert bench == BenchCommand(
        options=AgentOptions(pace="fast"), source=Path("v.avi"), seconds=10.0, repeats=3
    )


def test_camera_flags_are_recorded_in_order_as_text() -> None:
    options = _run_options("--source", "a", "--fps", "5", "--source", "b", "--no-loop", "--pace", "fast")
    assert options.camera_tokens == (("source", "a"), ("fps", "5"), ("source", "b"))
    assert (options.loop, options.pace) == (False, "fast")


@pytest.mark.parametrize(
    ("argv", "field", "expected"),
    [
        (["--state-dir", "/var/x"], lambda s: s.state_dir, Path("/var/x")),
        (["--model", "m.onnx"], lambda s: s.detector.model_path, Path("m.onnx")),
        (["--threads", "3"], lambda s: s.detector.intra_op_threads, 3),
        (["--tls"], lambda s: s.uplink.tls, True),
        (["--root-cert", "ca.pem"], lambda s: s.uplink.root_cert, Path("ca.pem")),
        (["--server", "h:50051"], lambda s: s.uplink.server, "h:50051"),
        (["--device-id", "7"], lambda s: s.uplink.device_id, 7),
        (["--device-secret", "s3"], lambda s: s.uplink.device_secret, "s3"),
        (["--heartbeat-interval", "2.5"], lambda s: s.uplink.heartbeat_interval_s, 2.5),
        (["--spool-max-frames", "1234"], lambda s: s.spool.max_frames, 1234),
        (["--no-appearance"], lambda s: s.appearance.enabled, False),
        (["--appearance"], lambda s: s.appearance.enabled, True),
        ([], lambda s: s.appearance.enabled, True),
        (["--source", "a.avi", "--fps", "7.5"], lambda s: s.cameras[0].analysis_fps, 7.5),
        (["--source", "a.avi", "--name", "door"], lambda s: s.cameras[0].name, "door"),
        (["--source", "a.avi", "--crop", "1,2,3,4"], lambda s: s.cameras[0].crop_xywh_px, (1, 2, 3, 4)),
        (
            ["--source", "a.avi", "--floor-region", "0,0;100,0;100,50"],
            lambda s: s.cameras[0].floor_region_cm,
            [(0.0, 0.0), (100.0, 0.0), (100.0, 50.0)],
        ),
        (["--source", "a.avi", "--no-loop", "--pace", "fast"], lambda s: (s.cameras[0].loop, s.cameras[0].pace),
         (False, "fast")),
        (["--source", "a.avi", "--source", "b.avi"], lambda s: [c.camera_id for c in s.cameras], [1, 2]),
    ],
)  # fmt: skip
def test_each_flag_lands_in_its_settings_field(
    argv: list[str], field: object, expected: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    settings = build_settings(_run_options(*argv))
    assert callable(field)
    assert field(settings) == expected
    # the Namespace form (what the existing callers pass) maps the same way
    from edge_agent.cli import build_parser

    assert build_settings(build_parser().parse_args(["run", *argv])) == settings


def test_flags_override_the_file_and_a_camera_replaces_the_files_camera_of_its_id(tmp_path: Path) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text(
        "state_dir: /from/file\n"
        "detector:\n  intra_op_threads: 2\n"
        "uplink:\n  server: file:1\n  heartbeat_interval_s: 30\n"
        "cameras:\n"
        "  - {camera_id: 1, source: file-one.avi, name: one}\n"
        "  - {camera_id: 2, source: file-two.avi, name: two}\n"
    )
    argv = [
        "--config",
        str(config),
        "--threads",
        "4",
        "--server",
        "flag:2",
        "--source",
        "cli.avi",
        "--camera-id",
        "2",
    ]
    settings = build_settings(_run_options(*argv))
    assert isinstance(settings, AgentSettings)
    assert settings.state_dir == Path("/from/file")  # not given: the file's
    assert settings.detector.intra_op_threads == 4
    assert (settings.uplink.server, settings.uplink.heartbeat_interval_s) == ("flag:2", 30)
    assert [(c.camera_id, c.source, c.name) for c in settings.cameras] == [
        (1, "file-one.avi", "one"),
        (2, "cli.avi", ""),
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--source", "a", "--camera-id", "abc"], "--camera-id must be an integer"),
        (["--source", "a", "--fps", "fast"], "--fps must be a number"),
        (["--source", "a", "--fps", "500"], "camera 1"),
        (["--threads", "-1"], "intra_op_threads"),
        (["--spool-max-frames", "0"], "max_frames"),
        (["--source", "a", "--crop", "1,2,x,4"], "comma-separated numbers"),
    ],
)
def test_values_of_the_wrong_kind_are_config_errors(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_settings(_run_options(*argv))


def test_a_bad_value_is_one_error_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--source", "a.avi", "--camera-id", "abc"]) == EXIT_BAD_INPUT
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["retail-edge: error: [config_invalid] --camera-id must be an integer, got 'abc'"]


def test_a_command_line_error_about_a_camera_does_not_show_its_login(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # stderr of the agent ends up in the journal: the same rules as its logs (retail_common.redaction).
    url = "rtsp://admin:s3cret@127.0.0.1:1/x?pwd=t0ken"
    code = main(["run", "--source", url, "--camera-id", "1", "--camera-id", "2"])
    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "--camera-id given twice for source rtsp://***@127.0.0.1:1/x?pwd=***" in err
    assert "s3cret" not in err
    assert "t0ken" not in err


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (
            ["run", "--max-seconds", "nan"],
            "--max-seconds",
        ),  # NaN: the run never stopped (now >= NaN is False)
        (["run", "--max-seconds", "-5"], "--max-seconds"),
        (["run", "--max-seconds", "inf"], "--max-seconds"),
        (["run", "--drain-s", "nan"], "--drain-s"),
        (["run", "--drain-s", "-1"], "--drain-s"),
        (["run", "--max-frames", "0"], "--max-frames"),
        (["run", "--max-frames", "-1"], "--max-frames"),
        (["probe", "cam.avi", "--seconds", "nan"], "--seconds"),
        (["probe", "cam.avi", "--frames", "-3"], "--frames"),
        (["bench", "--seconds", "-1"], "--seconds"),
        (["bench", "--repeats", "0"], "--repeats"),
    ],
)
def test_a_duration_or_count_that_cannot_be_meant_is_refused_by_the_parser(
    argv: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_command_line(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err
    assert "Traceback" not in err


def test_plain_durations_and_counts_still_parse() -> None:
    command = parse_command_line(
        ["run", "--max-seconds", "0.5", "--max-frames", "1", "--drain-s", "0"]
    ).command
    assert isinstance(command, RunCommand)
    assert (command.max_seconds, command.max_frames, command.drain_s) == (0.5, 1, 0.0)
