"""The server serves the dashboard shell on its client-side routes only, with the CSRF cookie and assets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from server.web import manifest as manifest_module


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(
        json.dumps(
            {
                "_vue-x.js": {"file": "assets/vue-x.js"},
                "index.html": {
                    "file": "assets/index-abc.js",
                    "isEntry": True,
                    "imports": ["_vue-x.js"],
                    "css": ["assets/index-abc.css"],
                },
            }
        )
    )
    monkeypatch.setattr(manifest_module, "MANIFEST_PATH", path)
    return path


@pytest.mark.parametrize(
    "url",
    ["/", "/login", "/live", "/heatmap", "/flow", "/distancing", "/security", "/admin-ui", "/admin-ui/zones"],
)
def test_client_routes_get_the_shell(built: Path, url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert '<script type="module" src="/static/dashboard/assets/index-abc.js"></script>' in body
    assert 'href="/static/dashboard/assets/index-abc.css"' in body
    assert 'rel="modulepreload" href="/static/dashboard/assets/vue-x.js"' in body
    assert "csrftoken" in response.cookies
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.parametrize(
    "url", ["/api/nothing-here", "/ws/sites/1/", "/metrics-x", "/livex", "/admin-ui/../api"]
)
def test_other_paths_are_not_the_dashboard(built: Path, url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 404


def test_django_admin_is_not_shadowed(built: Path) -> None:
    response = Client().get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_post_is_refused(built: Path) -> None:
    assert Client().post("/live").status_code == 405


def test_missing_build_answers_503_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifest_module, "MANIFEST_PATH", tmp_path / "absent.json")
    response = Client().get("/live")
    assert response.status_code == 503
    assert b"scripts/setup" in response.content


@pytest.fixture
def media_root(tmp_path: Path, settings: Any) -> Path:
    root = tmp_path / "media"
    (root / "snapshots").mkdir(parents=True)
    (root / "snapshots" / "cam1.jpg").write_bytes(b"\xff\xd8fake-jpeg")
    (tmp_path / "secret.txt").write_text("outside the media root")
    settings.MEDIA_ROOT = root
    return root


@pytest.mark.django_db
def test_media_needs_a_signed_in_user(media_root: Path) -> None:
    anonymous = Client().get("/media/snapshots/cam1.jpg")
    assert anonymous.status_code == 403
    client = Client()
    client.force_login(get_user_model().objects.create_user(username="viewer", password="x-very-long-pw-1"))
    response = client.get("/media/snapshots/cam1.jpg")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\xff\xd8fake-jpeg"  # type: ignore[attr-defined]
    assert "private" in response["Cache-Control"]
    traversal = client.get("/media/../secret.txt")
    assert traversal.status_code in {400, 404}
    assert b"outside the media root" not in traversal.content
    assert client.get("/media/snapshots/absent.jpg").status_code == 404


def test_the_shell_names_its_icon_and_favicon_ico_leads_to_it(built: Path) -> None:
    body = Client().get("/live").content.decode()
    assert '<link rel="icon" type="image/svg+xml" href="/static/web/favicon.svg" />' in body
    response = Client().get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/web/favicon.svg"
    icon = Path(__file__).parents[3] / "server" / "web" / "static" / "web" / "favicon.svg"
    assert icon.read_text().startswith("<svg")
