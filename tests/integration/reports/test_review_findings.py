"""Review of the reports and sales merge: what an attacker tried, each a test that failed before its fix.
Real PostgreSQL (and real concurrent transactions for the import race)."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import close_old_connections, transaction
from openpyxl import load_workbook
from rest_framework.test import APIClient

from server.accounts.sites import site_access_set
from server.alerts.models import Alert
from server.alerts.services import alert_raise
from server.insights.models import ZoneDwell
from server.inventory.models import Site, Zone
from server.reports.models import ReportSchedule
from server.reports.runner import report_recipients, run_due_reports, schedule_site_ids
from server.sales import services as sales_services
from server.sales.models import PosTransaction
from tests.integration.api.conftest import make_user

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DAY = datetime(2026, 11, 30, tzinfo=UTC)
RANGE = "start=2026-11-30T00:00:00Z&end=2026-12-01T00:00:00Z"
HOSTILE = ('=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1)")


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def _hostile_records(store: dict[str, Any]) -> None:
    site = store["site"]
    for index, text in enumerate(HOSTILE):
        zone = Zone.objects.create(site=site, name=text, polygon=[[0, 0], [1, 0], [1, 1]])
        ZoneDwell.objects.create(
            site=site,
            zone_id=zone.pk,
            zone_name=text,
            person_id=index,
            entered_at=DAY + timedelta(hours=9),
            exited_at=DAY + timedelta(hours=9, minutes=2),
            dwell_s=120.0,
        )
    alert = alert_raise(
        site_id=site.pk, zone_id=store["restricted"].pk, kind="alarm", person_id=3, message=HOSTILE[1]
    )
    Alert.objects.filter(pk=alert["id"]).update(raised_at=DAY + timedelta(hours=10), person_name=HOSTILE[0])


def test_csv_export_neutralises_formula_cells(
    store: dict[str, Any], client_for: Callable[[str], APIClient]
) -> None:
    """A zone, person or message text starting with = + - @ is a formula to a spreadsheet: it leaves as text."""
    _hostile_records(store)
    staff = client_for("staff")
    site = store["site"].pk
    cells: list[str] = []
    for analytic in ("dwell", "alerts"):
        response = staff.get(f"/api/sites/{site}/reports/export?{RANGE}&analytic={analytic}")
        assert response.status_code == 200
        text = _body(response).decode()
        cells += [cell for row in list(csv.reader(io.StringIO(text)))[1:] for cell in row]
    for hostile in HOSTILE:
        assert "'" + hostile in cells, hostile
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "@") or cell.startswith("-2")], cells


def test_xlsx_export_writes_formula_looking_text_as_text(
    store: dict[str, Any], client_for: Callable[[str], APIClient]
) -> None:
    _hostile_records(store)
    response = client_for("staff").get(f"/api/sites/{store['site'].pk}/reports/export?{RANGE}&file_type=xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(_body(response)))
    texts = []
    for name in ("dwell", "alerts"):
        for row in workbook[name].iter_rows(min_row=2):
            for cell in row:
                assert cell.data_type != "f", (name, cell.coordinate, cell.value)
                texts.append(cell.value)
    for hostile in HOSTILE:
        assert "'" + hostile in texts, hostile


def test_a_schedule_whose_only_site_is_deleted_does_not_grow_to_every_site(store: dict[str, Any]) -> None:
    """ "No sites chosen" means every site: deleting the one chosen site must not turn it into that."""
    owner = make_user("chain-manager", "staff")
    doomed = Site.objects.create(name="Closing store")
    schedule = ReportSchedule.objects.create(owner=owner, name="Closing", recipients=["m@example.com"])
    schedule.sites.set([doomed])
    doomed.delete()
    schedule.refresh_from_db()
    assert schedule_site_ids(schedule) == [] or not schedule.enabled
    assert not schedule.enabled
    assert "deleted" in schedule.last_error
    assert run_due_reports(now=DAY + timedelta(days=1, hours=8)) == []
    # A schedule with another site left keeps going, on that site only.
    kept = ReportSchedule.objects.create(owner=owner, name="Two", recipients=["m@example.com"])
    other = Site.objects.create(name="Also closing")
    kept.sites.set([store["site"], other])
    other.delete()
    kept.refresh_from_db()
    assert kept.enabled
    assert schedule_site_ids(kept) == [store["site"].pk]


@pytest.mark.parametrize(
    "name", ["Weekly\nBcc: victim@example.com", "Weekly\r\nX-Injected: 1", "Tab\tname\x00"]
)
def test_schedule_names_with_control_characters_are_refused(
    name: str, store: dict[str, Any], client_for: Callable[[str], APIClient]
) -> None:
    """The name is the e-mail subject: a line break in it was accepted and made `send` a 500 (BadHeaderError)."""
    response = client_for("staff").post(
        "/api/report-schedules", {"name": name, "recipients": ["me@example.com"]}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "name" in response.json()["extra"]["fields"]
    assert not ReportSchedule.objects.exists()


def test_two_concurrent_identical_imports_count_each_row_once(store: dict[str, Any]) -> None:
    """Both imports store the rows once (unique key); their answers must also say so: created adds up to the
    rows, not twice the rows (the second import used to report rows the first one had stored)."""
    site = store["site"]
    items = [
        {
            "time": f"2026-11-30T09:{minute:02d}:00Z",
            "till": "1",
            "amount": "5.00",
            "transaction_id": f"t{minute}",
        }
        for minute in range(20)
    ]
    results: dict[str, dict[str, int]] = {}
    first_stored = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():  # held open while the second import starts
                results["first"] = sales_services.transactions_import_items(
                    actor=None, site=site, items=items
                )
                first_stored.set()
                threading.Event().wait(1.5)
        except BaseException as err:
            errors.append(err)
            first_stored.set()
        finally:
            close_old_connections()

    def second() -> None:
        try:
            first_stored.wait(10)
            results["second"] = sales_services.transactions_import_items(actor=None, site=site, items=items)
        except BaseException as err:
            errors.append(err)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert PosTransaction.objects.filter(site=site).count() == 20
    assert results["first"]["created"] + results["second"]["created"] == 20, results
    assert results["second"]["duplicates"] == 20


def test_staff_may_address_only_the_systems_users(
    store: dict[str, Any], client_for: Callable[[str], APIClient], users: dict[str, Any]
) -> None:
    """A non-admin could mail the company's KPIs to any address, as often as `send` is called (the server's
    SMTP relay). Staff address users of the system (themselves, colleagues); admins any address."""
    users["staff"].email = "staff@shop.example"
    users["staff"].save()
    colleague = make_user("colleague", "staff")
    colleague.email = "Colleague@Shop.example"
    colleague.save()
    staff = client_for("staff")
    outside = staff.post(
        "/api/report-schedules",
        {"name": "Leak", "recipients": ["staff@shop.example", "rival@elsewhere.example"]},
        format="json",
    )
    assert outside.status_code == 400, outside.content
    assert "rival@elsewhere.example" in str(outside.json()["extra"]["fields"]["recipients"])
    ok = staff.post(
        "/api/report-schedules",
        {"name": "Team", "recipients": ["staff@shop.example", "colleague@shop.example"]},
        format="json",
    )
    assert ok.status_code == 201, ok.content
    admin = client_for("admin").post(
        "/api/report-schedules", {"name": "Board", "recipients": ["board@elsewhere.example"]}, format="json"
    )
    assert admin.status_code == 201, admin.content


def test_a_schedule_stops_mailing_an_address_that_left(store: dict[str, Any]) -> None:
    """The owner's recipients are re-checked at sending time: a colleague deactivated (or their address changed)
    gets no more reports from a staff member's schedule."""
    owner = make_user("owner", "staff")
    owner.email = "owner@shop.example"
    owner.save()
    leaver = make_user("leaver", "staff")
    leaver.email = "leaver@shop.example"
    leaver.save()
    schedule = ReportSchedule.objects.create(
        owner=owner, name="R", recipients=["owner@shop.example", "leaver@shop.example"]
    )
    assert report_recipients(schedule) == ["owner@shop.example", "leaver@shop.example"]
    leaver.is_active = False
    leaver.save()
    assert report_recipients(schedule) == ["owner@shop.example"]


def test_a_schedule_with_no_site_left_to_its_owner_sends_nothing(
    store: dict[str, Any], settings: Any
) -> None:
    """An owner whose access was taken from every site got an empty report every day."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from django.core import mail

    owner = make_user("no-sites-left", "staff")
    owner.email = "n@shop.example"
    owner.save()
    site_access_set(user=owner, all_sites=False, site_ids=[])
    schedule = ReportSchedule.objects.create(owner=owner, name="R", recipients=["n@shop.example"])
    assert run_due_reports(now=DAY + timedelta(days=1, hours=8)) == []
    assert mail.outbox == []
    schedule.refresh_from_db()
    assert schedule.last_period_end is None
    assert "no site" in schedule.last_error


def _queries_for(client: APIClient, urls: list[str]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        for url in urls:
            assert client.get(url).status_code == 200, url
    return len(captured.captured_queries)


def test_query_counts_do_not_grow_with_the_sites(store: dict[str, Any]) -> None:
    """A chain manager restricted to 2 sites, then to 20, each with a visit and an alert: the chain overview,
    the sites listing and the alert counts make the same number of queries (no query per site)."""
    user = make_user("chain-20", "staff")
    client = APIClient()
    client.force_authenticate(user)
    urls = [
        f"/api/reports/chain?{RANGE}",
        "/api/sites?limit=100",
        "/api/alerts/counts",
        "/api/alerts?limit=100",
    ]
    counts = []
    for total in (2, 20):
        sites = [Site.objects.create(name=f"S{total}-{index}") for index in range(total)]
        for site in sites:
            zone = Zone.objects.create(site=site, name="z", polygon=[[0, 0], [1, 0], [1, 1]])
            alert_raise(site_id=site.pk, zone_id=zone.pk, kind="alarm", person_id=1, message="m")
        site_access_set(user=user, all_sites=False, site_ids=[site.pk for site in sites])
        _queries_for(client, urls)  # warms the permission cache
        counts.append(_queries_for(client, urls))
        assert len(client.get(f"/api/reports/chain?{RANGE}").json()["sites"]) == total
    assert counts[0] == counts[1], counts


def test_a_locked_owner_row_does_not_skip_their_report(store: dict[str, Any], settings: Any) -> None:
    """The runner's FOR UPDATE SKIP LOCKED also locked the joined owner row: while that user's row was locked
    (a login writing last_login, an admin saving them) their due report was skipped, and the user row stayed
    locked during the SMTP send. Only the schedule row is locked now."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from django.contrib.auth.models import User

    owner = make_user("busy-owner", "staff")
    owner.email = "busy@shop.example"
    owner.save()
    ReportSchedule.objects.create(owner=owner, name="R", recipients=["busy@shop.example"])
    locked, release = threading.Event(), threading.Event()

    def hold_user_row() -> None:
        try:
            with transaction.atomic():
                User.objects.select_for_update().get(pk=owner.pk)
                locked.set()
                release.wait(10)
        finally:
            close_old_connections()

    holder = threading.Thread(target=hold_user_row)
    holder.start()
    try:
        assert locked.wait(10)
        sent = run_due_reports(now=DAY + timedelta(days=1, hours=8))
    finally:
        release.set()
        holder.join(10)
    assert len(sent) == 1, sent


def test_chain_overview_of_a_user_on_no_site_is_empty(store: dict[str, Any]) -> None:
    """Kept to no site at all: an empty table (not every site, not an error), also when naming a site."""
    user = make_user("nowhere", "staff")
    site_access_set(user=user, all_sites=False, site_ids=[])
    client = APIClient()
    client.force_authenticate(user)
    for query in (RANGE, f"{RANGE}&site={store['site'].pk}"):
        response = client.get(f"/api/reports/chain?{query}")
        assert response.status_code == 200
        assert response.json()["sites"] == []
    assert client.get("/api/sites").json()["count"] == 0
    export = client.get(f"/api/sites/{store['site'].pk}/reports/export?{RANGE}&file_type=xlsx")
    assert export.status_code == 404
