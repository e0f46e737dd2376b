"""Reports in headless Chromium against the running demo: the point-of-sale CSV upload (with its row errors and an
idempotent re-upload), the CSV and XLSX export downloads, and the chain overview comparing two sites."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.e2e.conftest import csrf_headers, login, screenshot

pytestmark = pytest.mark.e2e

GOOD = (
    "time,till,amount,transaction_id\n"
    "{day}T09:00:00Z,1,10.00,E-1\n{day}T09:30:00Z,2,4.50,E-2\n{day}T10:00:00Z,1,7,E-3\n"
)
BAD = "time,till,amount\n2026-11-30T09:00:00Z,1,10.00\n30/11/2026,1,5\n"


def _upload(page: Page, path: Path) -> None:
    page.set_input_files("[data-testid=pos-file]", str(path))
    page.click("[data-testid=pos-upload-button]")


def test_admin_uploads_pos_transactions(page: Page, tmp_path: Path) -> None:
    login(page, "admin")
    page.click("[data-testid=nav-reports]")
    expect(page.locator("[data-testid=reports-page]")).to_be_visible()
    good = tmp_path / "sales.csv"
    day = page.evaluate("() => new Date(Date.now() - 3600e3).toISOString().slice(0, 10)")
    good.write_text(GOOD.format(day=day))
    _upload(page, good)
    result = page.locator("[data-testid=pos-upload-result]")
    expect(result).to_have_text("3 rows read: 3 imported, 0 already there.")
    _upload(page, good)
    expect(result).to_have_text("3 rows read: 0 imported, 3 already there.")
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD)
    _upload(page, bad)
    expect(result).to_contain_text("nothing was imported")
    errors = page.locator("[data-testid=pos-upload-errors]")
    expect(errors).to_contain_text("3")
    expect(errors).to_contain_text("not an ISO 8601 date-time")
    screenshot(page, "reports-pos-upload")


def test_staff_downloads_exports(page: Page, tmp_path: Path) -> None:
    login(page, "staff")
    page.click("[data-testid=nav-reports]")
    expect(page.locator("[data-testid=pos-upload]")).to_have_count(0)  # importing is the admin's
    expect(page.locator("[data-testid=export-csv-conversion]")).to_be_visible()
    # The CSV links wrap in their column: with no space between them they made one line wider than the page,
    # which then scrolled sideways (1,528 px wide in a 1,400 px window).
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the reports page is {overflow} px wider than the window"
    with page.expect_download() as csv_download:
        page.click("[data-testid=export-csv-footfall]")
    csv_path = tmp_path / "footfall.csv"
    csv_download.value.save_as(csv_path)
    assert csv_download.value.suggested_filename.endswith("-footfall.csv")
    rows = list(csv.reader(io.StringIO(csv_path.read_text())))
    assert rows[0] == ["hour", "visits"]
    with page.expect_download() as xlsx_download:
        page.click("[data-testid=export-xlsx]")
    xlsx_path = tmp_path / "all.xlsx"
    xlsx_download.value.save_as(xlsx_path)
    workbook = load_workbook(xlsx_path, read_only=True)
    assert workbook.sheetnames == [
        "footfall",
        "visits",
        "occupancy",
        "dwell",
        "heatmap",
        "flow",
        "alerts",
        "conversion",
    ]


def test_chain_overview_compares_sites(page: Page) -> None:
    login(page, "admin")
    created = page.context.request.post(
        "/api/sites", data={"name": "Second store", "timezone": "UTC"}, headers=csrf_headers(page.context)
    )
    assert created.status == 201, created.text()
    page.click("[data-testid=nav-chain]")
    table = page.locator("[data-testid=chain-table]")
    expect(table).to_be_visible()
    second = page.locator(f"[data-testid=chain-row-{created.json()['id']}]")
    expect(second).to_contain_text("Second store")
    expect(second.locator("[data-testid=chain-footfall]")).to_have_text("0")
    expect(second.locator("[data-testid=chain-conversion]")).to_have_text("n/a")
    expect(second.locator("[data-testid=chain-queue]")).to_have_text("n/a")
    expect(table.locator("tbody tr")).to_have_count(2)
    page.click("[data-testid=chain-period-month]")
    expect(table.locator("tbody tr")).to_have_count(2)
    screenshot(page, "chain-overview")


def test_admin_limits_a_user_to_one_site(page: Page) -> None:
    login(page, "admin")
    sites = page.context.request.get("/api/sites").json()["results"]
    second = next((s for s in sites if s["name"] == "Branch store"), None)
    if second is None:
        second = page.context.request.post(
            "/api/sites", data={"name": "Branch store"}, headers=csrf_headers(page.context)
        ).json()
    page.goto("/admin-ui/users")
    page.click("[data-testid=users-new]")
    form = page.locator("[data-testid=users-form]")
    form.locator("input[name=username]").fill("branch-clerk")
    form.locator("input[name=password]").fill("a long branch password 7")
    form.locator("input[name=all_sites]").uncheck()
    form.locator(f"input[name=sites-{second['id']}]").check()
    page.click("[data-testid=users-save]")
    expect(page.locator("[data-testid=users-form] .error")).to_have_count(0)
    row = page.locator("[data-testid=users] tr", has_text="branch-clerk")
    expect(row).to_contain_text(
        "Branch store", timeout=15_000
    )  # save, then the list reloads (a loaded CI box)
    page.context.clear_cookies()
    login(page, "branch-clerk", "a long branch password 7")
    listed = page.context.request.get("/api/sites").json()["results"]
    assert [s["name"] for s in listed] == ["Branch store"]
    expect(page.locator("[data-testid=nav-chain]")).to_have_count(0)  # one site: no chain overview
    expect(page.locator("header.topbar")).to_contain_text("Branch store")
    demo = next(s for s in sites if s["name"] == "Demo store")
    assert page.context.request.get(f"/api/sites/{demo['id']}/analytics/visits").status == 404


def test_staff_schedules_an_email_report(page: Page) -> None:
    """The Reports page lists, creates and deletes the user's scheduled reports; an address outside the system's
    users is refused with the server's reason (staff mail users of the system only)."""
    login(page, "admin")
    staff = page.context.request.get("/api/users?username=staff").json()["results"][0]
    patched = page.context.request.patch(
        f"/api/users/{staff['id']}", data={"email": "staff@shop.example"}, headers=csrf_headers(page.context)
    )
    assert patched.status == 200, patched.text()
    page.context.clear_cookies()
    login(page, "staff")
    page.click("[data-testid=nav-reports]")
    panel = page.locator("[data-testid=report-schedules]")
    expect(panel).to_be_visible()
    form = page.locator("[data-testid=schedule-form]")
    form.locator("input[name=name]").fill("Morning KPIs")
    form.locator("select[name=frequency]").select_option("weekly")
    form.locator("select[name=weekday]").select_option(label="Friday")
    form.locator("input[name=timezone]").fill("Europe/Paris")
    form.locator("input[name=recipients]").fill("staff@shop.example, rival@elsewhere.example")
    page.click("[data-testid=schedule-save]")
    expect(page.locator("[data-testid=schedule-recipients-error]")).to_contain_text("rival@elsewhere.example")
    expect(panel.locator("[data-testid=schedule-list]")).to_have_count(0)
    form.locator("input[name=recipients]").fill("staff@shop.example")
    page.click("[data-testid=schedule-save]")
    listed = panel.locator("[data-testid=schedule-list]")
    expect(listed).to_contain_text("Morning KPIs")
    expect(listed).to_contain_text("weekly, Friday 07:00 Europe/Paris")
    expect(listed).to_contain_text("staff@shop.example")
    mine = page.context.request.get("/api/report-schedules").json()["results"]
    assert [(s["name"], s["weekday"], s["recipients"]) for s in mine] == [
        ("Morning KPIs", 4, ["staff@shop.example"])
    ]
    screenshot(page, "reports-schedules")
    page.click(f"[data-testid=schedule-delete-{mine[0]['id']}]")
    expect(panel.locator("[data-testid=schedule-none]")).to_be_visible()
    assert page.context.request.get("/api/report-schedules").json()["count"] == 0
