"""Exports (CSV streamed, XLSX), the chain overview and scheduled e-mail reports, against real PostgreSQL,
InfluxDB and a real SMTP server (aiosmtpd on a free loopback port)."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import User
from openpyxl import load_workbook
from rest_framework.test import APIClient

from server.accounts.sites import site_access_set
from server.alerts.models import Alert
from server.alerts.services import alert_raise
from server.insights.models import PersonVisit, QueueWait, ZoneDwell, ZoneTransition
from server.inventory.models import Site
from server.reports.models import ReportSchedule
from server.reports.runner import run_due_reports
from server.sales.models import PosTransaction
from tests.integration.api.conftest import make_user

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DAY = datetime(2026, 11, 30, tzinfo=UTC)
RANGE = "start=2026-11-30T00:00:00Z&end=2026-12-01T00:00:00Z"


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp(settings: Any) -> Iterator[_Inbox]:
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"  # pytest-django sets locmem
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    try:
        yield inbox
    finally:
        controller.stop()


def _body(response: Any) -> bytes:
    """The whole body of a streamed answer."""
    return b"".join(response.streaming_content)


def _records(site: Site, zone_ids: tuple[int, int], visits: int) -> None:
    for index in range(visits):
        start = DAY + timedelta(hours=9, minutes=index)
        PersonVisit.objects.create(
            site=site, person_id=index, started_at=start, ended_at=start + timedelta(minutes=10)
        )
    ZoneDwell.objects.create(
        site=site,
        zone_id=zone_ids[0],
        zone_name="Promo",
        person_id=1,
        entered_at=DAY + timedelta(hours=9),
        exited_at=DAY + timedelta(hours=9, minutes=2),
        dwell_s=120.0,
    )
    ZoneTransition.objects.create(
        site=site,
        person_id=1,
        from_zone_id=zone_ids[0],
        from_zone_name="Promo",
        to_zone_id=zone_ids[1],
        to_zone_name="Stock room",
        at=DAY + timedelta(hours=9, minutes=3),
    )
    for index in range(visits // 2):
        PosTransaction.objects.create(
            site=site,
            occurred_at=DAY + timedelta(hours=9, minutes=index),
            till="1",
            amount=10,
            key=f"k{index}",
        )


def test_csv_export_streams_each_analytic(
    store: dict[str, Any], client_for: Callable[[str], APIClient]
) -> None:
    site = store["site"]
    _records(site, (store["zone"].pk, store["restricted"].pk), 12)
    alert_raise(site_id=site.pk, zone_id=store["restricted"].pk, kind="alarm", person_id=3, message="in")
    staff = client_for("staff")
    footfall = staff.get(f"/api/sites/{site.pk}/reports/export?{RANGE}&analytic=footfall")
    assert footfall.status_code == 200
    assert footfall.streaming
    assert footfall["Content-Type"] == "text/csv"
    assert "attachment" in footfall["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(_body(footfall).decode())))
    assert rows == [["hour", "visits"], ["2026-11-30T09:00:00+00:00", "12"]]
    visits = staff.get(f"/api/sites/{site.pk}/reports/export?{RANGE}&analytic=visits")
    visit_rows = list(csv.reader(io.StringIO(_body(visits).decode())))
    assert len(visit_rows) == 13
    assert visit_rows[1][3] == "600.0"
    flow = staff.get(f"/api/sites/{site.pk}/reports/export?{RANGE}&analytic=flow")
    assert list(csv.reader(io.StringIO(_body(flow).decode())))[1][1:] == [
        "Promo",
        str(store["restricted"].pk),
        "Stock room",
        "1",
    ]
    no_analytic = staff.get(f"/api/sites/{site.pk}/reports/export?{RANGE}")
    assert no_analytic.status_code == 400
    assert no_analytic.json()["extra"]["fields"]["analytic"]
    assert staff.get(f"/api/sites/{site.pk}/reports/export?{RANGE}&analytic=nope").status_code == 400
    assert staff.get(f"/api/sites/{site.pk}/reports/export?{RANGE}&file_type=pdf").status_code == 400
    assert client_for("installer").get(f"/api/sites/{site.pk}/reports/export?{RANGE}").status_code == 403


def test_xlsx_export_has_a_sheet_per_analytic(
    store: dict[str, Any], client_for: Callable[[str], APIClient]
) -> None:
    site = store["site"]
    _records(site, (store["zone"].pk, store["restricted"].pk), 6)
    alert = alert_raise(
        site_id=site.pk, zone_id=store["restricted"].pk, kind="alarm", person_id=3, message="inside"
    )
    Alert.objects.filter(pk=alert["id"]).update(raised_at=DAY + timedelta(hours=9))
    response = client_for("staff").get(f"/api/sites/{site.pk}/reports/export?{RANGE}&file_type=xlsx")
    assert response.status_code == 200, response.content[:300]
    workbook = load_workbook(io.BytesIO(_body(response)), read_only=True)
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
    conversion = [list(row) for row in workbook["conversion"].iter_rows(values_only=True)]
    assert conversion[0] == ["hour", "visits", "transactions", "revenue", "conversion"]
    assert conversion[1][1:] == [6, 3, 30.0, 0.5]
    dwell = [list(row) for row in workbook["dwell"].iter_rows(values_only=True)]
    assert dwell[1][1:4] == ["Promo", 1, 120.0]
    alerts = [list(row) for row in workbook["alerts"].iter_rows(values_only=True)]
    assert alerts[1][-1] == "inside"


def test_chain_overview_compares_the_users_sites(
    store: dict[str, Any], client_for: Callable[[str], APIClient]
) -> None:
    site, other = store["site"], store["other_site"]
    _records(site, (store["zone"].pk, store["restricted"].pk), 10)
    PersonVisit.objects.create(site=other, person_id=1, started_at=DAY + timedelta(hours=8))
    alert_raise(site_id=site.pk, zone_id=store["restricted"].pk, kind="alarm", person_id=3, message="in")
    body = client_for("staff").get(f"/api/reports/chain?{RANGE}").json()
    by_name = {row["name"]: row for row in body["sites"]}
    assert by_name["Store A"]["footfall"] == 10
    assert by_name["Store A"]["transactions"] == 5
    assert by_name["Store A"]["conversion"] == 0.5
    assert by_name["Store A"]["mean_dwell_s"] == 600.0
    assert by_name["Store A"]["queue_wait_s"] is None  # no queue waits recorded
    assert by_name["Store A"]["open_alerts"] == 1
    assert by_name["Store B"]["footfall"] == 1
    assert by_name["Store B"]["conversion"] == 0.0
    assert by_name["Store B"]["mean_dwell_s"] is None  # still inside
    restricted = make_user("staff-of-b", "staff")
    site_access_set(user=restricted, all_sites=False, site_ids=[other.pk])
    client = APIClient()
    client.force_authenticate(restricted)
    assert [row["name"] for row in client.get(f"/api/reports/chain?{RANGE}").json()["sites"]] == ["Store B"]


def test_chain_overview_shows_the_mean_wait_of_served_visitors(
    store: dict[str, Any], client_for: Callable[[str], APIClient]
) -> None:
    # The chain overview said "n/a" for every site's queue wait, although the waits are recorded.
    site, other = store["site"], store["other_site"]

    def wait(joined_min: int, wait_s: float | None, *, staff: bool = False) -> None:
        joined = DAY + timedelta(hours=9, minutes=joined_min)
        served = None if wait_s is None else joined + timedelta(seconds=wait_s)
        QueueWait.objects.create(
            site=site,
            zone=None,
            zone_name="Tills",
            person_id=joined_min,
            joined_at=joined,
            served_at=served,
            left_at=(served or joined) + timedelta(seconds=30),
            wait_s=wait_s,
            staff=staff,
        )

    wait(0, 60.0)
    wait(1, 120.0)
    wait(2, None)  # abandoned: no waiting time
    wait(3, 600.0, staff=True)  # an employee's: no visitor's wait
    wait(-24 * 60, 900.0)  # the day before: outside the range
    body = client_for("staff").get(f"/api/reports/chain?{RANGE}").json()
    by_name = {row["name"]: row for row in body["sites"]}
    assert by_name["Store A"]["queue_wait_s"] == 90.0
    assert by_name["Store B"]["queue_wait_s"] is None
    assert other.pk != site.pk


def _html_and_images(message: Message) -> tuple[str, dict[str, bytes]]:
    html, images = "", {}
    for part in message.walk():
        if part.get_content_type() == "text/html":
            payload: Any = part.get_payload(decode=True)
            html = bytes(payload).decode()
        if part.get_content_type() == "image/png":
            image: Any = part.get_payload(decode=True)
            images[str(part["Content-ID"]).strip("<>")] = bytes(image)
    return html, images


def _user_with_address(username: str, email: str) -> User:
    user = make_user(username, "staff")
    user.email = email
    user.save(update_fields=["email"])
    return user


def test_a_due_schedule_is_mailed_once_with_inline_charts(store: dict[str, Any], smtp: _Inbox) -> None:
    site, other = store["site"], store["other_site"]
    _records(site, (store["zone"].pk, store["restricted"].pk), 8)
    owner: User = make_user("chain-manager", "staff")
    site_access_set(user=owner, all_sites=False, site_ids=[site.pk])
    _user_with_address("boss", "boss@example.com")  # a staff member mails users of the system
    _user_with_address("ops", "ops@example.com")
    schedule = ReportSchedule.objects.create(
        owner=owner,
        name="Daily KPIs",
        frequency="daily",
        send_hour=7,
        timezone="UTC",
        recipients=["boss@example.com", "ops@example.com"],
    )
    schedule.sites.set([site, other])  # B was chosen, but the owner is not allowed on it: left out
    sent = run_due_reports(now=DAY + timedelta(days=1, hours=7, minutes=1))
    assert [item["sites"] for item in sent] == [1]
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["X-Envelope-To"] == "boss@example.com,ops@example.com"
    assert str(message["Subject"]) == "Daily KPIs: 2026-11-30 (UTC)"
    html, images = _html_and_images(message)
    assert "Store A" in html
    assert "Store B" not in html
    assert "<td>50.0 %</td>" in html  # 4 sales / 8 visits
    assert "n/a" in html  # queue wait
    assert set(images) == {"footfall-sites", "conversion-sites", "footfall-time"}
    assert all(png.startswith(b"\x89PNG") for png in images.values())
    assert all(f"cid:{cid}" in html for cid in images)
    # The same period is not sent twice, by any later run.
    assert run_due_reports(now=DAY + timedelta(days=1, hours=9)) == []
    assert len(smtp.messages) == 1
    schedule.refresh_from_db()
    assert schedule.last_period_end == DAY + timedelta(days=1)


def test_a_refused_send_stays_due(store: dict[str, Any], settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", _free_port(), 2
    owner = _user_with_address("nobody-listens", "a@example.com")
    schedule = ReportSchedule.objects.create(owner=owner, name="R", recipients=["a@example.com"])
    assert run_due_reports(now=DAY + timedelta(days=1, hours=8)) == []
    schedule.refresh_from_db()
    assert schedule.last_period_end is None
    assert "ConnectionRefusedError" in schedule.last_error


def test_schedules_api_keeps_to_the_owner(
    store: dict[str, Any], client_for: Callable[[str], APIClient], smtp: _Inbox
) -> None:
    _user_with_address("me", "me@example.com")
    staff = client_for("staff")
    created = staff.post(
        "/api/report-schedules",
        {
            "name": "Weekly",
            "frequency": "weekly",
            "weekday": 0,
            "recipients": ["me@example.com"],
            "timezone": "Europe/Paris",
            "sites": [store["site"].pk],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    bad = staff.post(
        "/api/report-schedules",
        {"name": "x", "recipients": ["not-an-address"], "timezone": "Mars/Base"},
        format="json",
    )
    assert bad.status_code == 400
    assert set(bad.json()["extra"]["fields"]) == {"recipients", "timezone"}
    other = make_user("other-staff", "staff")
    client = APIClient()
    client.force_authenticate(other)
    assert client.get("/api/report-schedules").json()["count"] == 0
    assert client.get(f"/api/report-schedules/{created.json()['id']}").status_code == 404
    now = staff.post(f"/api/report-schedules/{created.json()['id']}/send")
    assert now.status_code == 200, now.content
    assert len(smtp.messages) == 1


def test_occupancy_export_with_the_time_series_down_is_a_clear_503(
    store: dict[str, Any], client_for: Callable[[str], APIClient]
) -> None:
    """The occupancy sheet is read before the answer starts: an InfluxDB that does not answer is a 503 with a
    code, not a download cut off halfway."""
    from server.insights import apis as insights_apis
    from server.timeseries.factory import TimeSeriesConfig, build_backend

    down = build_backend(TimeSeriesConfig(influx_url=f"http://127.0.0.1:{_free_port()}"))
    insights_apis.use_timeseries(down)
    try:
        url = f"/api/sites/{store['site'].pk}/reports/export?{RANGE}"
        response = client_for("staff").get(f"{url}&analytic=occupancy")
        assert response.status_code == 503, response.content[:300]
        assert response.json()["code"] == "timeseries_unavailable"
        assert (
            client_for("staff").get(f"{url}&analytic=footfall").status_code == 200
        )  # the others still export
    finally:
        insights_apis.use_timeseries(None)
        down.close()


def test_send_now_is_throttled_per_schedule_and_per_user(
    store: dict[str, Any], smtp: _Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: every POST …/send mailed the report again, unbounded.
    from server.reports.apis import ReportSendThrottle, ReportSendUserThrottle

    rates = {"report_send": "2/hour", "report_send_user": "4/hour"}
    monkeypatch.setattr(ReportSendThrottle, "THROTTLE_RATES", rates)
    monkeypatch.setattr(ReportSendUserThrottle, "THROTTLE_RATES", rates)
    owner = _user_with_address("sender", "sender@example.com")
    first, second = (
        ReportSchedule.objects.create(owner=owner, name=name, recipients=["sender@example.com"])
        for name in "AB"
    )
    client = APIClient()
    client.force_authenticate(owner)

    def send(schedule: ReportSchedule, as_client: APIClient = client) -> Any:
        return as_client.post(f"/api/report-schedules/{schedule.pk}/send")

    assert [send(first).status_code for _ in range(2)] == [200, 200]
    refused = send(first)
    assert refused.status_code == 429, refused.content
    body = refused.json()
    assert body["code"] == "throttled"
    assert body["message"].startswith("Too many reports sent now")
    assert body["extra"] == {}
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert send(second).status_code == 200  # another schedule: its own count
    assert send(second).status_code == 429  # but the user's four requests are spent (a refused one counts)
    assert len(smtp.messages) == 3
    other = _user_with_address("other-sender", "other@example.com")
    theirs = ReportSchedule.objects.create(owner=other, name="C", recipients=["other@example.com"])
    other_client = APIClient()
    other_client.force_authenticate(other)
    assert send(theirs, other_client).status_code == 200  # another user: not limited by the first one's sends
    assert len(smtp.messages) == 4
