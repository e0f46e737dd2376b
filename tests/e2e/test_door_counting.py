"""An admin draws a counting line in the zones editor (with its in arrow) and the live page counts the demo's
walkers crossing it: the system started as the README starts it, in headless Chromium."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

from playwright.sync_api import Page, expect

from tests.e2e.conftest import csrf_headers, login, screenshot


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


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def test_a_door_s_name_on_the_live_map_stays_off_the_area_name_it_crosses(page: Page) -> None:
    # A door through the middle of the demo's entrance area (1.5-8 m x 15-18.5 m): its name was drawn at the
    # line's midpoint, which is the area's centroid, right over the area's name.
    login(page, "admin")
    zones = page.request.get("/api/zones/?limit=1000").json()["results"]
    entrance = next(z for z in zones if z["name"] == "Entrance")
    body = {
        "site": entrance["site"],
        "name": "Front door",
        "kind": "door",
        "polygon": [[4.75, 15.0], [4.75, 18.5]],
    }
    headers = csrf_headers(page.context)
    created = page.request.post("/api/zones/", data=json.dumps(body), headers=headers)
    assert created.status == 201, created.text()
    door = created.json()
    try:
        page.reload()
        floor = page.locator("[data-testid=live-map] [data-testid=floor-map]")
        expect(floor).to_be_visible()
        page.wait_for_timeout(500)  # the canvas drawn
        floor.screenshot(path=str(screenshot(page, "live-door-label")).replace(".png", "-map.png"))
        labels = {label["id"]: label for label in json.loads(floor.get_attribute("data-labels") or "[]")}
        door_box, entrance_box = labels[door["id"]], labels[entrance["id"]]
        assert not _overlap(door_box, entrance_box), (door_box, entrance_box)
        scale = float(floor.get_attribute("data-scale") or "0")
        line_x = 4.75 * scale
        assert not door_box["x"] <= line_x <= door_box["x"] + door_box["width"], "the name is on its own line"
        for other in labels.values():
            if other["id"] != door["id"] and "x" in other:
                assert not _overlap(door_box, other), (door_box, other)
        # A line has no occupancy: the zones panel shows its crossings today (or "—"), never an occupancy of 0.
        expect(page.locator(f"[data-testid=zone-count-{door['id']}] [data-testid=zone-count]")).to_have_text(
            re.compile(r"^(—|in \d+ · out \d+)$")
        )
        screenshot(page, "live-zones-panel")
        # ... and the zones table of the admin shows its length and the side people enter from, not an area.
        page.click("[data-testid=nav-admin]")
        page.click("[data-testid=admin-nav-admin-zones]")
        expect(page.locator(f"[data-testid=zone-row-{door['id']}] [data-testid=zone-size]")).to_have_text(
            "3.5 m, in ←"
        )
        expect(page.locator(f"[data-testid=zone-row-{entrance['id']}] [data-testid=zone-size]")).to_have_text(
            "22.8 m²"
        )
        screenshot(page, "admin-zones-table")
    finally:
        assert page.request.delete(f"/api/zones/{door['id']}/", headers=headers).status == 204
