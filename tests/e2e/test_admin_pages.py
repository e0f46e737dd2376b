"""Administration pages in headless Chromium against the running demo: the calibration snapshot round trip with the
demo's real edge agent, the menu each role gets, the zone polygon editor, the audit log and adding a site."""

from __future__ import annotations

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
