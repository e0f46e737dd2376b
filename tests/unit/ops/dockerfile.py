"""A small Dockerfile reader for the tests: instructions with continuation lines joined, COPY sources."""

from __future__ import annotations

import json
import shlex


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; comments dropped, backslash continuations joined."""
    result: list[tuple[str, str]] = []
    buffer = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if buffer and line.startswith("#"):
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        name, _, args = buffer.partition(" ")
        result.append((name.upper(), args.strip()))
        buffer = ""
    return result


def copied_sources(text: str) -> list[str]:
    """Source paths of every COPY without --from (paths in the build context)."""
    sources: list[str] = []
    for name, args in instructions(text):
        if name != "COPY":
            continue
        words = json.loads(args) if args.startswith("[") else shlex.split(args)
        flags = [w for w in words if w.startswith("--")]
        if any(flag.startswith("--from") for flag in flags):
            continue
        paths = [w for w in words if not w.startswith("--")]
        sources.extend(paths[:-1])
    return sources
