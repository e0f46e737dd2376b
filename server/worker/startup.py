"""How long a site worker takes from its process start to its first pull, by phase, for its start-up log line.

A worker that joins while the streams run takes a share only once it pulls (server.worker.service): its start-up is
part of how fast placement follows a scale-out or a restart. Standard library only: imported first thing.
"""

from __future__ import annotations

import os
import time

_marks: list[tuple[str, float]] = []


def process_age_s() -> float | None:
    """Seconds since this process started (the kernel's start time; None where /proc does not say it)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
        with open("/proc/uptime", encoding="ascii") as uptime:
            up_s = float(uptime.read().split()[0])
        return up_s - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def mark(phase: str) -> None:
    """`phase` ended now (the first mark also records the time since the process started, as "python")."""
    now = time.monotonic()
    if not _marks:
        age = process_age_s()
        if age is not None:
            _marks.append(("python", now - age))
    _marks.append((phase, now))


def summary() -> str:
    """ "first pull 4.2 s after the process started: python 0.9 s, django 1.1 s, ..."; empty without marks."""
    if not _marks:
        return ""
    start = _marks[0][1]
    steps, previous = [], start
    for phase, at in _marks[1:] if _marks[0][0] == "python" else _marks:
        steps.append(f"{phase} {at - previous:.2f} s")
        previous = at
    origin = "the process started" if _marks[0][0] == "python" else "the first mark"
    return f"{previous - start:.2f} s after {origin}: {', '.join(steps)}"


def elapsed_s() -> float | None:
    """Seconds from the process start (or the first mark) to the last mark."""
    return _marks[-1][1] - _marks[0][1] if _marks else None
