"""Administration pages in headless Chromium against the running demo: the calibration snapshot round trip with the
demo's real edge agent, the menu each role gets, the zone polygon editor, the audit log and adding a site."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import login, screenshot

pytestmark = pytest.mark.e2e


def test_installer_takes_a_snapshot_for_calibration(page: Page) -> None:
    login(page, "installer")
    page.click("[data-testid=nav-admin]")
    page.click("[data-testid=admin-nav-admin-cameras]")
    page.locator("[data-testid^=calibrate-]").first.click()
    expect(page.locator("[data-testid=snapshot-privacy]")).to_contain_text("only image that ever leaves")
    page.click("[data-testid=snapshot-take]")
    # The demo's edge agent answers over its gRPC stream: the still appears with its capture time.
    image = page.locator("[data-testid=snapshot-image]")
    expect(image).to_be_visible(timeout=20_000)
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=snapshot-image]'); return i && i.naturalWidth > 0; }"
    )
    expect(page.locator("[data-testid=snapshot-time]")).to_contain_text("Captured")
    expect(page.locator("[data-testid=snapshot-take]")).to_have_text("Take snapshot")
    assert page.locator("[data-testid=snapshot-error]").count() == 0
    screenshot(page, "admin-calibration-snapshot")


def _floor_point(page: Page, x_m: float, y_m: float) -> tuple[float, float]:
    floor = page.locator("[data-testid=floor-map]").first
    scale = float(floor.get_attribute("data-scale") or "0")
    box = floor.bounding_box()
    assert box is not None
    assert scale > 0
    return box["x"] + 1 + x_m * scale, box["y"] + 1 + y_m * scale


def test_each_role_is_offered_only_the_pages_it_may_open(page: Page) -> None:
    login(page, "installer")
    for hidden in ("heatmap", "flow", "distancing", "security"):
        expect(page.locator(f"[data-testid=nav-{hidden}]")).to_have_count(0)
    expect(page.locator("[data-testid=nav-live]")).to_be_visible()
    expect(page.locator("[data-testid=nav-admin]")).to_be_visible()
    page.goto("/heatmap")
    expect(page.locator("[data-testid=forbidden]")).to_be_visible()
    page.click("[data-testid=nav-admin]")
    nav = page.locator("[data-testid=admin-nav]")
    expect(nav.locator("[data-testid=admin-nav-admin-cameras]")).to_be_visible()
    for hidden in ("sites", "audit", "users", "zones"):
        expect(nav.locator(f"[data-testid=admin-nav-admin-{hidden}]")).to_have_count(0)
    page.context.clear_cookies()
    login(page, "staff")
    for shown in ("live", "heatmap", "flow", "distancing", "security"):
        expect(page.locator(f"[data-testid=nav-{shown}]")).to_be_visible()
    expect(page.locator("[data-testid=nav-admin]")).to_have_count(0)
    page.context.clear_cookies()
    login(page, "admin")
    page.click("[data-testid=nav-admin]")
    for shown in ("sites", "zones", "floor-plan", "cameras", "devices", "people", "users", "audit"):
        expect(page.locator(f"[data-testid=admin-nav-admin-{shown}]")).to_be_visible()


def test_admin_adds_a_site_and_reads_it_in_the_audit_log(page: Page) -> None:
    login(page, "admin")
    page.click("[data-testid=nav-admin]")
    page.click("[data-testid=admin-nav-admin-sites]")
    page.click("[data-testid=sites-new]")
    form = page.locator("[data-testid=sites-form]")
    name = f"E2E store {int(time.time())}"
    form.locator("input").first.fill(name)
    form.locator("button[type=submit]").click()
    expect(page.locator("[data-testid=sites-notice]")).to_contain_text("Saved")
    expect(page.locator("[data-testid=sites]")).to_contain_text(name)
    sites = page.request.get("/api/sites/?limit=1000").json()["results"]
    created = next(s for s in sites if s["name"] == name)
    page.click("[data-testid=admin-nav-admin-audit]")
    row = page.locator(f"[data-testid=audit-table] tr:has-text('{name}')").first
    expect(row).to_be_visible()
    expect(row).to_contain_text("create")
    expect(row).to_contain_text("admin")
    page.select_option("[data-testid=audit-action]", "delete")
    expect(page.locator(f"[data-testid=audit-table] tr:has-text('{name}')")).to_have_count(0)
    screenshot(page, "admin-audit-log")
    assert created["id"] > 0


def test_zone_editor_closes_on_double_click_and_explains_a_bow_tie(page: Page) -> None:
    login(page, "admin")
    page.click("[data-testid=nav-admin]")
    page.click("[data-testid=admin-nav-admin-zones]")
    page.click("[data-testid=zone-new]")
    editor = page.locator("[data-testid=zones-admin]")
    corners = [(2.0, 2.0), (6.0, 2.0), (6.0, 5.0), (2.0, 5.0)]
    for x_m, y_m in corners[:-1]:
        page.mouse.click(*_floor_point(page, x_m, y_m))
    page.mouse.dblclick(*_floor_point(page, *corners[-1]))  # the last corner, and close
    expect(editor).to_have_attribute("data-mode", "edit")
    name = f"E2E shelf {int(time.time())}"
    page.fill("input[name=zone-name]", name)
    page.select_option("select[name=zone-kind]", "interest")
    page.click("[data-testid=zone-save]")
    expect(page.locator("[data-testid=zone-notice]")).to_contain_text("Saved")
    zones = page.request.get("/api/zones/?limit=1000").json()["results"]
    drawn = next(z for z in zones if z["name"] == name)
    assert len(drawn["polygon"]) == 4, drawn["polygon"]  # before: a duplicate fifth corner
    # A bow-tie: told which edges cross, not "zero area", and nothing is closed or saved.
    page.click("[data-testid=zone-new]")
    for x_m, y_m in [(10.0, 10.0), (14.0, 14.0), (14.0, 10.0)]:
        page.mouse.click(*_floor_point(page, x_m, y_m))
    page.mouse.dblclick(*_floor_point(page, 10.0, 14.0))
    expect(page.locator("[data-testid=zone-error]")).to_contain_text("self-intersecting")
    expect(editor).to_have_attribute("data-mode", "draw")
    page.keyboard.press("Escape")
    # Clean up: the other tests watch the demo's zones.
    headers = {"X-CSRFToken": next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")}
    assert page.request.delete(f"/api/zones/{drawn['id']}/", headers=headers).status == 204


def test_flow_page_draws_walking_directions_per_floor_block(page: Page) -> None:
    login(page, "staff")
    page.wait_for_function("() => window.__retail && window.__retail.siteId() !== null")
    site_id = page.evaluate("() => window.__retail.siteId()")
    # A fresh demo closes its first heat-map minute about a minute after the walkers appear.
    deadline = time.monotonic() + 150
    moving = 0
    while time.monotonic() < deadline:
        end = datetime.now(UTC)
        response = page.request.get(
            f"/api/sites/{site_id}/analytics/heatmap",
            params={"start": (end - timedelta(hours=1)).isoformat(), "end": end.isoformat()},
        )
        assert response.status == 200, f"{response.status} {response.url}: {response.text()[:300]}"
        answer = response.json()
        moving = sum(1 for cell in answer["cells"] if abs(cell[3]) + abs(cell[4]) > 0)
        if moving:
            break
        page.wait_for_timeout(2000)
    assert moving, "the demo recorded no movement in the heat map"
    page.click("[data-testid=nav-flow]")
    directions = page.locator("[data-testid=flow-directions]")
    expect(directions).not_to_have_attribute("data-start", "", timeout=15_000)
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=flow-directions]').dataset.arrows) > 0"
    )
    expect(directions).to_contain_text("main walking direction")
    screenshot(page, "flow-directions")
    page.click("[data-testid=flow-directions-toggle]")
    expect(directions).to_have_attribute("data-arrows", "0")


def test_camera_form_keeps_a_query_login_out_of_sight_and_saved(page: Page) -> None:
    """A login typed into the source URL's query is moved out, the form shows the URL without it and its names,
    and saving the form again (the redacted URL back) keeps the stored login."""
    login(page, "installer")
    page.click("[data-testid=nav-admin]")
    page.click("[data-testid=admin-nav-admin-cameras]")
    page.click("[data-testid=cameras-new]")
    form = page.locator("[data-testid=cameras-form]")
    name = f"E2E query login {int(time.time())}"
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=source_uri]").fill(
        "http://10.9.9.9/snapshot.cgi?res=hd&user=e2eadmin&pwd=E2e-s3cret"
    )
    form.locator("button[type=submit]").click()
    row = page.locator(f"[data-testid=cameras] tr:has-text('{name}')")
    expect(row).to_be_visible()
    row.locator("button:has-text('edit')").click()
    expect(form.locator("input[name=source_uri]")).to_have_value("http://10.9.9.9/snapshot.cgi?res=hd")
    expect(form).to_contain_text("Source URL secret parameters (set: user, pwd)")
    assert "E2e-s3cret" not in page.content()
    form.locator("input[name=analysis_rate_hz]").fill("3")
    form.locator("button[type=submit]").click()
    expect(form).to_have_count(0)
    cameras = page.request.get("/api/cameras/?limit=1000").json()["results"]
    saved = next(c for c in cameras if c["name"] == name)
    assert saved["analysis_rate_hz"] == 3
    assert saved["source_uri"] == "http://10.9.9.9/snapshot.cgi?res=hd"
    assert saved["source_secret_query_names"] == ["user", "pwd"]  # not wiped by the redacted form
    row.locator("button:has-text('delete')").click()
    row.locator("button:has-text('really delete?')").click()
    expect(row).to_have_count(0)


def test_the_cameras_list_shows_how_well_the_demo_cameras_agree(page: Page) -> None:
    """The demo's two overlapping cameras see the same people: the site's fusion measures how far apart they place
    them and stores it on both cameras (about once a minute), and the cameras list shows it for each."""
    login(page, "installer")
    deadline = time.monotonic() + 90
    checked: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        cameras = page.request.get("/api/cameras/?limit=1000").json()["results"]
        checked = [c for c in cameras if (c.get("calibration_check") or {}).get("pairs")]
        if len(checked) >= 2:
            break
        time.sleep(2)
    assert len(checked) >= 2, "the demo's fusion stored no calibration check within 90 s"
    first = checked[0]
    pair = first["calibration_check"]["pairs"][0]  # type: ignore[index]
    assert pair["other_camera"] in {c["id"] for c in checked}
    assert 0.0 <= pair["median_m"] <= pair["p90_m"]
    page.click("[data-testid=nav-admin]")
    page.click("[data-testid=admin-nav-admin-cameras]")
    row = page.locator(f"[data-testid=cameras] tr:has-text('{first['name']}')").first
    expect(row).to_contain_text(" m from ")
    screenshot(page, "admin-cameras-calibration-check")
