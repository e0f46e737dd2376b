"""Hardening item 12: the dashboard (Vite build, Konva canvas, WebSocket) works under the Content-Security-Policy
that every answer carries: no directive is violated on the live map, the heat map and the administration."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e

RECORD_VIOLATIONS_JS = """
document.addEventListener('securitypolicyviolation', (e) => {
  (window.__cspViolations = window.__cspViolations || []).push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


def test_dashboard_runs_under_the_content_security_policy(page: Page) -> None:
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(RECORD_VIOLATIONS_JS)
    response = page.goto("/login")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    login(page, "admin")
    expect(page.locator("[data-testid=connection]")).to_have_attribute("data-status", "open", timeout=15_000)
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=live-map]')?.dataset.personCount ?? 0) > 0",
        timeout=30_000,
    )
    violations = list(page.evaluate("() => window.__cspViolations || []"))
    for path in ("/heatmap", "/admin-ui"):
        page.goto(path)
        page.wait_for_selector("[data-testid=current-user]")
        page.wait_for_timeout(1000)
        violations += page.evaluate("() => window.__cspViolations || []")
    assert violations == []
    assert not [line for line in console if "Content Security Policy" in line]
