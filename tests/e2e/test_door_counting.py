"""An admin draws a counting line in the zones editor (with its in arrow) and the live page counts the demo's
walkers crossing it: the system started as the README starts it, in headless Chromium."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from playwright.sync_api import Page, expect

from tests.e2e.conftest import login, screenshot


def _floor_point(page: Page, x_m: float, y_m: float) -> tuple[float, float]:
    floor = page.locator("[data-testid=floor-map]").first
    scale = float(floor.get_attribute("data-scale") or "0")
    box = floor.bounding_box()
    assert box is not None
    assert scale > 0
    return box["x"] + 1 + x_m * scale, box["y"] + 1 + y_m * scale


def test_admin_draws_a_counting_line_and_the_live_page_counts_it(page: Page) -> None:
    login(page, "admin")
    page.click("[data-testid=nav-admin]")
    page.click("[data-testid=admin-nav-admin-zones]")
    page.click("[data-testid=line-new]")
    editor = page.locator("[data-testid=zones-admin]")
    # Across the whole store, top to bottom: everybody walking between its two halves crosses it.
    page.mouse.click(*_floor_point(page, 15.0, 0.5))
    page.mouse.dblclick(*_floor_point(page, 15.0, 19.5))
    expect(editor).to_have_attribute("data-mode", "edit")
    name = f"E2E line {int(time.time())}"
    page.fill("input[name=zone-name]", name)
    page.select_option("select[name=zone-kind]", "door")
    screenshot(page, "admin-counting-line")
    page.click("[data-testid=zone-save]")
    expect(page.locator("[data-testid=zone-notice]")).to_contain_text("Saved")
    zones = page.request.get("/api/zones/?limit=1000").json()["results"]
    drawn = next(z for z in zones if z["name"] == name)
    assert (drawn["kind"], len(drawn["polygon"])) == ("door", 2), drawn
    try:
        page.click("[data-testid=nav-live]")
        panel = page.locator(f"[data-testid=door-{drawn['id']}]")
        expect(panel).to_be_visible(timeout=90_000)  # the live page polls the counts every minute
        site_id = drawn["site"]
        start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0).isoformat()
        deadline = time.monotonic() + 150
        counted = 0
        while time.monotonic() < deadline and not counted:
            doors = page.request.get(
                f"/api/sites/{site_id}/analytics/doors", params={"start": start, "include_staff": "true"}
            ).json()
            line = next(x for x in doors["lines"] if x["line_id"] == drawn["id"])
            counted = line["in"] + line["out"]
            page.wait_for_timeout(3000)
        assert counted > 0, "nobody of the demo was counted crossing the line in 150 s"
        page.reload()
        expect(page.locator(f"[data-testid=door-{drawn['id']}]")).to_contain_text("in", timeout=90_000)
        screenshot(page, "live-doors")
    finally:
        headers = {
            "X-CSRFToken": next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
        }
        assert page.request.delete(f"/api/zones/{drawn['id']}/", headers=headers).status == 204
