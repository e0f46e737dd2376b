"""Charts of a scheduled report, rendered on the server as PNG (matplotlib's Agg backend, no display)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure


def bar_chart_png(*, title: str, labels: Sequence[str], values: Sequence[float], unit: str = "") -> bytes:
    """A horizontal bar chart, one bar per label (a site), as PNG bytes."""
    height_in = max(2.0, 0.35 * len(labels) + 1.0)
    figure = Figure(figsize=(7.0, height_in), dpi=96)
    axes = figure.add_subplot()
    positions = list(range(len(labels)))
    axes.barh(positions, list(values), color="#2f6fb0")
    axes.set_yticks(positions, labels=list(labels))
    axes.invert_yaxis()
    axes.set_title(title)
    if unit:
        axes.set_xlabel(unit)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def line_chart_png(*, title: str, labels: Sequence[str], values: Sequence[float]) -> bytes:
    """A line over time (labels: the buckets), as PNG bytes."""
    figure = Figure(figsize=(7.0, 2.8), dpi=96)
    axes = figure.add_subplot()
    axes.plot(range(len(values)), list(values), color="#2f6fb0", marker="o", markersize=3)
    step = max(1, len(labels) // 8)
    axes.set_xticks(range(0, len(labels), step), labels=list(labels)[::step], rotation=30, ha="right")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
