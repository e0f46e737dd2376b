"""An admin sets the demo site's capacity and closing time in the sites admin page; the demo's walkers (the sample
video through the real edge agent, ingest, fusion and analytics) take it over capacity and a capacity alert
appears in the security feed; the live page shows the capacity as pushed and its staff switch re-reads the day's
figures with staff included. The system started as the README starts it, in headless Chromium."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.e2e.conftest import csrf_headers, login, screenshot


def test_over_capacity_raises_an_alert_in_the_feed(page: Page) -> None:
    login(page, "admin")
    site_id = page.evaluate("() => Number(localStorage.getItem('retail.siteId') || 0)") or None
    sites = page.request.get("/api/sites/?limit=1000").json()["results"]
    site = next((s for s in sites if s["id"] == site_id), sites[0])
    page.click("[data-testid=nav-admin]")
    page.click("[data-testid=admin-nav-admin-sites]")
    row = page.locator(f"[data-testid=sites] tr[data-row-id='{site['id']}']")
    row.locator("button:has-text('edit')").click()
    form = page.locator("[data-testid=sites-form]")
    form.locator("input[name=capacity]").fill("1")
    form.locator("input[name=closing_time]").fill("22:30")
    form.locator("button[type=submit]").click()
    expect(page.locator("[data-testid=sites-notice]")).to_contain_text("Saved")
    expect(row).to_contain_text("22:30")
    stored = page.request.get(f"/api/sites/{site['id']}/").json()
    assert (stored["capacity"], stored["closing_time"]) == (1, "22:30:00"), stored
    try:
        page.click("[data-testid=nav-live]")
        # Pushed with the live frames once the analytics took the new setting (a few seconds).
        expect(page.locator("[data-testid=capacity]")).to_have_text("1", timeout=60_000)
        toggle = page.locator("[data-testid=include-staff]")
        expect(toggle).not_to_be_checked()
        with page.expect_request(lambda r: "/analytics/visits" in r.url and "include_staff=true" in r.url):
            toggle.check()
        expect(page.locator("[data-testid=visits-today]")).not_to_have_text("—", timeout=30_000)
        with page.expect_request(lambda r: "/analytics/visits" in r.url and "include_staff=false" in r.url):
            toggle.uncheck()

        page.click("[data-testid=nav-security]")
        alert = page.locator("[data-testid=alert-item].capacity").first
        expect(alert).to_be_visible(timeout=120_000)  # as soon as two walkers are on the floor at once
        expect(alert.locator("[data-testid=alert-message]")).to_contain_text("capacity of 1")
        expect(alert).to_contain_text("whole site")
        screenshot(page, "security-capacity-alert")
        alert_id = alert.get_attribute("data-alert-id")
        assert alert_id is not None
        assert int(alert_id) > 0
        stored_alert = page.request.get(f"/api/alerts/{alert_id}/").json()
        assert (stored_alert["kind"], stored_alert["site"], stored_alert["zone"]) == (
            "capacity",
            site["id"],
            None,
        )
    finally:
        answer = page.request.patch(
            f"/api/sites/{site['id']}/",
            data=json.dumps({"capacity": None, "closing_time": None}),
            headers=csrf_headers(page.context),
        )
        assert answer.status == 200, answer.text()


def test_admin_sets_a_queue_s_alert_thresholds_in_the_zones_editor(page: Page) -> None:
    login(page, "admin")
    sites = page.request.get("/api/sites/?limit=1000").json()["results"]
    site_id = page.evaluate("() => Number(localStorage.getItem('retail.siteId') || 0)") or sites[0]["id"]
    headers = csrf_headers(page.context)
    body = {
        "site": site_id,
        "name": "E2E tills",
        "kind": "queue",
        "polygon": [[1, 1], [3, 1], [3, 3], [1, 3]],
    }
    created = page.request.post("/api/zones/", data=json.dumps(body), headers=headers)
    assert created.status == 201, created.text()
    zone = created.json()
    try:
        page.click("[data-testid=nav-admin]")
        page.click("[data-testid=admin-nav-admin-zones]")
        expect(page.locator("[data-testid=zones-admin]")).to_be_visible()
        page.reload()  # the site's zones, with the one just made over the API
        page.click(f"[data-testid=zone-row-{zone['id']}]")
        fieldset = page.locator("[data-testid=queue-alert]")
        expect(fieldset).to_contain_text("(defaults)")
        expect(fieldset.locator("input[name=queue-alert-length]")).to_have_value("6")
        fieldset.locator("input[name=queue-alert-length]").fill("3")
        fieldset.locator("input[name=queue-alert-wait]").fill("")
        fieldset.locator("input[name=queue-alert-after]").fill("20")
        page.click("[data-testid=zone-save]")
        expect(page.locator("[data-testid=zone-notice]")).to_contain_text("Saved")
        expect(fieldset).not_to_contain_text("(defaults)")
        stored = page.request.get(f"/api/zones/{zone['id']}/queue-alert").json()
        assert (stored["length"], stored["wait_s"], stored["after_s"]) == (3, None, 20.0), stored
        screenshot(page, "admin-queue-alert")
    finally:
        assert page.request.delete(f"/api/zones/{zone['id']}/", headers=headers).status == 204
