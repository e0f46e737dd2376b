"""``retail-edge``: enroll / run / probe / calibrate / bench.

Three parts, data flowing one way: :mod:`~edge_agent.cli.grammar` (the parser and the typed command it yields),
:mod:`~edge_agent.cli.settings` (typed command line → :class:`~edge_agent.config.AgentSettings`; the saved device
configuration), :mod:`~edge_agent.cli.wiring` (the agent's parts built from the settings and served), with
:mod:`~edge_agent.cli.commands` running each command. Errors: one line on stderr and exit status 2 for bad input,
3 for refused credentials.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from edge_agent.cli import commands
from edge_agent.cli.grammar import (
    BenchCommand,
    CalibrateCommand,
    Command,
    EnrollCommand,
    ProbeCommand,
    RunCommand,
    build_parser,
    parse_command_line,
)
from edge_agent.cli.settings import (
    build_settings,
    cli_cameras,
    group_camera_tokens,
    load_device_config,
    save_device_config,
)
from edge_agent.cli.wiring import EXIT_BAD_INPUT, EXIT_OK, EXIT_UNAUTHENTICATED, EXIT_UNEXPECTED
from edge_agent.errors import AuthenticationError, EdgeError, GeometryError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_OK",
    "EXIT_UNAUTHENTICATED",
    "EXIT_UNEXPECTED",
    "build_parser",
    "build_settings",
    "cli_cameras",
    "group_camera_tokens",
    "load_device_config",
    "main",
    "parse_command_line",
    "save_device_config",
]


def _run(command: Command) -> int:
    if isinstance(command, EnrollCommand):
        return commands.enroll(command)
    if isinstance(command, RunCommand):
        return commands.run(command)
    if isinstance(command, ProbeCommand):
        return commands.probe(command)
    if isinstance(command, CalibrateCommand):
        return commands.calibrate(command)
    if isinstance(command, BenchCommand):
        return commands.bench(command)
    raise TypeError(f"no handler for {command!r}")


def main(argv: Sequence[str] | None = None) -> int:
    line = parse_command_line(argv)
    logging.basicConfig(
        level=getattr(logging, line.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return _run(line.command)
    except AuthenticationError as err:
        print(f"retail-edge: error: {err}", file=sys.stderr)
        return EXIT_UNAUTHENTICATED
    except (EdgeError, GeometryError) as err:
        print(f"retail-edge: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return EXIT_OK
