"""CLI: camera flag grouping, calibrate, probe, and one-line errors with non-zero exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_agent.cli import EXIT_BAD_INPUT, build_parser, build_settings, group_camera_tokens, main
from edge_agent.config import sample_video_path
from edge_agent.errors import ConfigError

VIDEO = str(sample_video_path())


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--source", "a", "--camera-id", "1", "--source", "a", "--camera-id", "2", "--crop", "1,2,3,4"],
            [{"source": "a", "camera_id": "1"}, {"source": "a", "camera_id": "2", "crop": "1,2,3,4"}],
        ),
        (
            ["--source", "a", "--source", "b", "--camera-id", "1", "--camera-id", "2", "--crop", "0,0,5,5"],
            [{"source": "a", "camera_id": "1", "crop": "0,0,5,5"}, {"source": "b", "camera_id": "2"}],
        ),
        (["--camera-id", "7", "--source", "a"], [{"source": "a", "camera_id": "7"}]),
        ([], []),
    ],
)
def test_camera_flags_are_grouped(argv: list[str], expected: list[dict[str, str]]) -> None:
    args = build_parser().parse_args(["run", *argv])
    assert group_camera_tokens(getattr(args, "camera_tokens", None) or []) == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--camera-id", "1"], "without any --source"),
        (["--source", "a", "--camera-id", "1", "--camera-id", "2"], "given twice"),
        (["--source", "a", "--crop", "1,2,3"], "exactly 4"),
        (["--source", "a", "--homography", "1,2,3"], "exactly 9"),
        (["--source", "a", "--camera-id", "0"], "camera 0"),
        (["--source", "a", "--floor-region", "0,0,1,1"], "at least 3"),
    ],
)
def test_bad_camera_flags_are_config_errors(argv: list[str], message: str) -> None:
    args = build_parser().parse_args(["run", *argv])
    with pytest.raises(ConfigError, match=message):
        build_settings(args)


def test_demo_command_line_builds_two_cameras() -> None:
    argv = ["run", "--server", "127.0.0.1:50051", "--device-id", "3", "--device-secret", "x", "--source", VIDEO,
            "--camera-id", "1", "--source", VIDEO, "--camera-id", "2", "--crop", "520,0,760,720",
            "--homography", "1,0,0,0,1,0,0,0,1", "--loop", "--pace", "native"]  # fmt: skip
    settings = build_settings(build_parser().parse_args(argv))
    first, second = settings.cameras
    assert (first.camera_id, first.crop_xywh_px, first.loop, first.pace) == (1, None, True, "native")
    assert (second.camera_id, second.crop_xywh_px) == (2, (520, 0, 760, 720))
    assert second.homography_px_to_cm == [1, 0, 0, 0, 1, 0, 0, 0, 1]
    assert (settings.uplink.server, settings.uplink.device_id) == ("127.0.0.1:50051", 3)


def test_calibrate_prints_homography_and_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("# u v x y\n0 0 0 0\n100 0 2 0\n100 100 2 2\n0 100 0 2\n50 50 1 1.1\n")
    assert main(["calibrate", "--pairs-file", str(pairs), "--floor-unit", "m", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["homography_px_to_cm"]) == 9
    assert 0.5 < result["max_error_cm"] < 10.0  # the fifth point is 10 cm off the other four's plane
    assert main(["calibrate", "--pair", "0,0:0,0", "--pair", "1,1:1,1", "--pair", "2,2:2,2", "--pair",
                 "3,3:3,3"]) == EXIT_BAD_INPUT  # fmt: skip
    assert "collinear" in capsys.readouterr().err


def test_probe_reports_resolution_fps_and_decode_rate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", VIDEO, "--frames", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["width_px"], result["height_px"], result["fps"]) == (1280, 720, 50.0)
    assert result["decode_fps"] > 0
    assert result["frames_decoded"] == 20


@pytest.mark.parametrize(
    "case", ["missing_model", "corrupt_model", "missing_video", "corrupt_video", "no_cameras"]
)
def test_bad_inputs_give_one_error_line_and_a_non_zero_exit(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt = tmp_path / "bad.bin"
    corrupt.write_bytes(b"\x00garbage\xff" * 500)
    model = {"missing_model": tmp_path / "nope.onnx", "corrupt_model": corrupt}.get(case)
    video = {"missing_video": str(tmp_path / "nope.avi"), "corrupt_video": str(corrupt)}.get(case, VIDEO)
    argv = ["run", "--state-dir", str(tmp_path / "state"), "--max-seconds", "1"]
    if model is not None:
        argv += ["--model", str(model)]
    if case != "no_cameras":
        argv += ["--source", video, "--camera-id", "1"]
    assert main(argv) == EXIT_BAD_INPUT
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    named = {"missing_model": "nope.onnx", "corrupt_model": "bad.bin", "missing_video": "nope.avi",
             "corrupt_video": "bad.bin", "no_cameras": "no cameras"}[case]  # fmt: skip
    assert lines[0].startswith("retail-edge: error:")
    assert named in lines[0]


def test_config_file_is_validated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text("cameras:\n  - camera_id: 1\n    source: a.avi\n    colour: red\n")
    assert main(["run", "--config", str(config)]) == EXIT_BAD_INPUT
    assert "colour" in capsys.readouterr().err
    config.write_text("detector: [unclosed\n")
    assert main(["run", "--config", str(config)]) == EXIT_BAD_INPUT
    assert "not valid YAML" in capsys.readouterr().err
