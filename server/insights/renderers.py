"""The heat-map endpoint's JSON renderer: DRF's, with the cells held as arrays (`HeatCells`) written from the
arrays (server.insights.heat_cells.json_texts) instead of walked one value at a time by the JSON encoder."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from rest_framework.compat import INDENT_SEPARATORS, LONG_SEPARATORS, SHORT_SEPARATORS
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

from server.insights.heat_cells import HeatCells, json_texts


class _MarkingEncoder(JSONEncoder):
    """DRF's encoder writing `marker` where a `HeatCells` stands, the cells kept in `found` in the order
    written."""

    def __init__(self, *args: Any, marker: str, found: list[HeatCells], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.marker, self.found = marker, found

    def default(self, obj: Any) -> Any:
        if isinstance(obj, HeatCells):
            self.found.append(obj)
            return self.marker
        return super().default(obj)


class HeatmapJSONRenderer(JSONRenderer):
    """JSONRenderer, the same text, where each `HeatCells` is written as its list of cells would be: the encoder
    writes a marker string in its place (a random one per answer, so no string of the data can be taken for it),
    then the markers are replaced by the cells' text, all of them made at once."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        indent = self.get_indent(accepted_media_type or "", renderer_context or {})
        flat = SHORT_SEPARATORS if self.compact else LONG_SEPARATORS
        separators = flat if indent is None else INDENT_SEPARATORS
        found: list[HeatCells] = []
        marker = f"heat-cells-{secrets.token_hex(16)}"
        text = json.dumps(
            data,
            cls=_MarkingEncoder,
            marker=marker,
            found=found,
            indent=indent,
            ensure_ascii=self.ensure_ascii,
            allow_nan=not self.strict,
            separators=separators,
        )
        # as DRF: \u2028 and \u2029 escaped, the JSON a strict subset of JavaScript
        parts = (
            text.replace("\u2028", "\\u2028")
            .replace("\u2029", "\\u2029")
            .encode()
            .split(f'"{marker}"'.encode())
        )
        if len(parts) != len(found) + 1:
            raise ValueError("the heat-map cells were not all written where their markers stood")
        pieces = [parts[0]]
        for cells, part in zip(json_texts(found, allow_nan=not self.strict), parts[1:], strict=True):
            pieces += [cells, part]
        return b"".join(pieces)
