"""Read the Vite build manifest (`static/dashboard/.vite/manifest.json`) into the assets the page needs."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DASHBOARD_STATIC_PREFIX = "dashboard/"
MANIFEST_PATH = Path(__file__).resolve().parent / "static" / "dashboard" / ".vite" / "manifest.json"
ENTRY_NAME = "index.html"


class ManifestError(Exception):
    """The dashboard build is missing or unreadable; `code` says which."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class EntryAssets:
    """Static paths (relative to STATIC_URL) of the entry script, its CSS and the chunks to preload."""

    script: str
    stylesheets: tuple[str, ...]
    preloads: tuple[str, ...]


def entry_assets(manifest: dict[str, Any], entry: str = ENTRY_NAME) -> EntryAssets:
    """Walk the entry's static imports: their files are preloaded, their CSS linked, each once, in order."""
    if entry not in manifest:
        raise ManifestError(f"the dashboard manifest has no entry {entry!r}", code="entry_missing")
    stylesheets: list[str] = []
    preloads: list[str] = []
    seen: set[str] = set()

    def visit(key: str, is_entry: bool) -> None:
        if key in seen:
            return
        seen.add(key)
        chunk = manifest.get(key)
        if not isinstance(chunk, dict) or not isinstance(chunk.get("file"), str):
            raise ManifestError(f"the dashboard manifest's chunk {key!r} has no file", code="chunk_invalid")
        for imported in chunk.get("imports", []):
            visit(str(imported), False)
        for css in chunk.get("css", []):
            path = DASHBOARD_STATIC_PREFIX + str(css)
            if path not in stylesheets:
                stylesheets.append(path)
        if not is_entry:
            preloads.append(DASHBOARD_STATIC_PREFIX + str(chunk["file"]))

    visit(entry, True)
    return EntryAssets(
        script=DASHBOARD_STATIC_PREFIX + str(manifest[entry]["file"]),
        stylesheets=tuple(stylesheets),
        preloads=tuple(preloads),
    )


_cache: tuple[Path, float, EntryAssets] | None = None


def load_entry_assets(path: Path | None = None) -> EntryAssets:
    """The entry's assets, re-read when the manifest file changes (a rebuild while the server runs)."""
    global _cache
    path = MANIFEST_PATH if path is None else path
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError as err:
        raise ManifestError(
            "the dashboard is not built: run scripts/setup (or `npm ci && npm run build` in frontend/)",
            code="not_built",
        ) from err
    if _cache is not None and (_cache[0], _cache[1]) == (path, mtime):
        return _cache[2]
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ManifestError(f"the dashboard manifest cannot be read: {err}", code="unreadable") from err
    if not isinstance(manifest, dict):
        raise ManifestError("the dashboard manifest is not a JSON object", code="unreadable")
    assets = entry_assets(manifest)
    _cache = (path, mtime, assets)
    logger.info("dashboard assets loaded from %s: %s", path, assets.script)
    return assets
