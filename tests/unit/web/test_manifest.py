"""The Vite manifest → the dashboard page's script, stylesheets and preloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from server.web.manifest import EntryAssets, ManifestError, entry_assets, load_entry_assets

MANIFEST: dict[str, Any] = {
    "_vue-a.js": {"file": "assets/vue-a.js"},
    "_konva-b.js": {"file": "assets/konva-b.js", "imports": ["_vue-a.js"], "css": ["assets/konva-b.css"]},
    "index.html": {
        "file": "assets/index-c.js",
        "isEntry": True,
        "imports": ["_vue-a.js", "_konva-b.js"],
        "css": ["assets/index-c.css"],
        "dynamicImports": ["src/pages/LivePage.vue"],
    },
    "src/pages/LivePage.vue": {"file": "assets/LivePage-d.js", "imports": ["_vue-a.js"]},
}


@pytest.mark.parametrize(
    ("manifest", "expected", "error_code"),
    [
        (
            MANIFEST,
            EntryAssets(
                script="dashboard/assets/index-c.js",
                stylesheets=("dashboard/assets/konva-b.css", "dashboard/assets/index-c.css"),
                preloads=("dashboard/assets/vue-a.js", "dashboard/assets/konva-b.js"),
            ),
            None,
        ),
        (
            {"index.html": {"file": "assets/i.js"}},
            EntryAssets(script="dashboard/assets/i.js", stylesheets=(), preloads=()),
            None,
        ),
        ({"other.html": {"file": "assets/o.js"}}, None, "entry_missing"),
        ({"index.html": {"file": "assets/i.js", "imports": ["_gone.js"]}}, None, "chunk_invalid"),
    ],
)
def test_entry_assets(manifest: dict[str, Any], expected: EntryAssets | None, error_code: str | None) -> None:
    if error_code is not None:
        with pytest.raises(ManifestError) as info:
            entry_assets(manifest)
        assert info.value.code == error_code
    else:
        assert entry_assets(manifest) == expected


def test_dynamic_imports_are_not_preloaded() -> None:
    assets = entry_assets(MANIFEST)
    assert all("LivePage" not in path for path in assets.preloads)


def test_load_entry_assets_rereads_a_rebuilt_manifest(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"index.html": {"file": "assets/one.js"}}))
    assert load_entry_assets(path).script == "dashboard/assets/one.js"
    path.write_text(json.dumps({"index.html": {"file": "assets/two.js"}}))
    import os

    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))
    assert load_entry_assets(path).script == "dashboard/assets/two.js"


@pytest.mark.parametrize(
    ("content", "code"),
    [(None, "not_built"), ("{not json", "unreadable"), ("[1, 2]", "unreadable")],
)
def test_load_entry_assets_errors(tmp_path: Path, content: str | None, code: str) -> None:
    path = tmp_path / "manifest.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ManifestError) as info:
        load_entry_assets(path)
    assert info.value.code == code
