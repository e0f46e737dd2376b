"""Adversarial review of the retention periods set in the dashboard (PUT /api/retention): who may set them, what
the body may hold, concurrent requests, the audit log's own period, and the periodic purge reading them."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from server.audit.models import AuditLog
from server.insights.models import PersonVisit
from server.retention.models import PurgeRun, RetentionSetting
from server.retention.policy import CLASS_NAMES
from server.retention.purge import RetentionJob

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _put(client: APIClient, days: Any) -> Any:
    return client.put("/api/retention", {"days": days}, format="json")


def _days(client: APIClient) -> dict[str, int]:
    return {row["data_class"]: row["days"] for row in client.get("/api/retention").json()["policy"]}


def test_only_admins_set_periods_and_a_session_needs_its_csrf_token(
    store: dict[str, Any], client_for: Any, users: dict[str, User]
) -> None:
    for role in ("staff", "installer", "anonymous"):
        assert _put(client_for(role), {"visits": 1}).status_code == 403, role
    # Viewing is not changing; the one "change" permission is the whole edit (set, change or reset a period), the
    # permission the page shows its editor for.
    viewer = User.objects.create_user(username="viewer", password="x")
    viewer.user_permissions.add(Permission.objects.get(codename="view_purgerun"))
    looks = APIClient()
    looks.force_authenticate(viewer)
    assert _put(looks, {"visits": 1}).status_code == 403
    editor = User.objects.create_user(username="editor", password="x")
    editor.user_permissions.add(
        Permission.objects.get(codename="change_retentionsetting"),
        Permission.objects.get(codename="view_purgerun"),
    )
    edits = APIClient()
    edits.force_authenticate(editor)
    assert _put(edits, {"visits": 40}).status_code == 200
    assert _put(edits, {"visits": None}).status_code == 200  # a reset too (it deletes the row)
    # a logged-in browser session without the CSRF token is refused
    browser = APIClient(enforce_csrf_checks=True)
    browser.login(username="admin-user", password="correct horse battery staple")
    assert _put(browser, {"visits": 1}).status_code == 403
    assert not RetentionSetting.objects.exists()


@pytest.mark.parametrize(
    "value",
    [30.5, True, False, "ten", 10**30, -1, 36_501, {"days": 3}, [3], ""],
    ids=repr,
)
def test_odd_values_are_refused_whole(store: dict[str, Any], client_for: Any, value: Any) -> None:
    answer = _put(client_for("admin"), {"visits": 10, "positions": value})
    assert answer.status_code == 400, answer.content
    assert not RetentionSetting.objects.exists()


@pytest.mark.parametrize("body", [[], "visits", None, {"visits": 3}, 7])
def test_a_body_without_a_days_object_is_refused(store: dict[str, Any], client_for: Any, body: Any) -> None:
    answer = client_for("admin").put("/api/retention", body, format="json")
    assert answer.status_code == 400, answer.content


def test_whole_number_spellings_are_taken_as_days(store: dict[str, Any], client_for: Any) -> None:
    """DRF's IntegerField takes "30" and 30.0 as 30: lenient, not wrong (the dashboard sends numbers)."""
    admin = client_for("admin")
    assert _put(admin, {"visits": "30", "positions": 7.0}).status_code == 200
    assert (_days(admin)["visits"], _days(admin)["positions"]) == (30, 7)


def test_resetting_an_unset_class_or_setting_the_same_value_writes_no_audit(
    store: dict[str, Any], client_for: Any
) -> None:
    admin = client_for("admin")
    assert _put(admin, {"visits": None}).status_code == 200
    assert _put(admin, {"visits": 30}).status_code == 200
    assert _put(admin, {"visits": 30}).status_code == 200
    entries = AuditLog.objects.filter(object_type="retention.retentionsetting")
    assert [e.action for e in entries] == ["create"]


def test_the_audit_log_cannot_be_shortened_from_the_dashboard(
    store: dict[str, Any], client_for: Any, settings: Any, tmp_path: Any
) -> None:
    """docs/privacy.md: nobody can change or delete the audit log through the API. A period of 1 day set here and
    "Purge now" would delete every entry older than a day: the dashboard may lengthen the audit period, or keep it
    for ever (0), never shorten it below the server's setting."""
    settings.RETENTION_AUDIT_DAYS = 730
    settings.INFLUX_URL = ""
    settings.TIMESERIES_EMBEDDED_PATH = tmp_path / "ts.sqlite3"
    admin = client_for("admin")
    old = AuditLog.objects.create(object_type="x.y", object_id="1", action="create")
    AuditLog.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=10))
    refused = _put(admin, {"audit": 1})
    assert refused.status_code == 400, refused.content
    assert "days.audit" in str(refused.json()["extra"]["fields"])
    admin.post("/api/retention")
    assert AuditLog.objects.filter(pk=old.pk).exists()
    assert _put(admin, {"audit": 800}).status_code == 200
    assert _put(admin, {"audit": 0}).status_code == 200
    assert _days(admin)["audit"] == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_settings_of_a_class_all_succeed(users: dict[str, User]) -> None:
    """Two admins saving at once, where no period was set yet: SELECT … FOR UPDATE locks no row, so both insert
    the same class; the loser hit the unique constraint (a 500)."""
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    codes: list[int] = []

    def save(index: int) -> None:
        client = APIClient()
        client.force_authenticate(users["admin"])
        barrier.wait()
        codes.append(_put(client, {name: 1000 + index for name in CLASS_NAMES}).status_code)
        connections.close_all()

    threads = [threading.Thread(target=save, args=(i,)) for i in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(codes) == [200] * threads_n
    assert RetentionSetting.objects.count() == len(CLASS_NAMES)
    assert len(set(RetentionSetting.objects.values_list("days", flat=True))) == 1  # one request won whole


@pytest.mark.django_db(transaction=True)
def test_the_periodic_job_purges_with_the_periods_set_in_the_dashboard(
    store: dict[str, Any], settings: Any
) -> None:
    """The purge thread of a server process reads the periods from the database at each run (its own
    connection), so a period saved in the dashboard applies without a restart."""
    settings.RETENTION_VISITS_DAYS = 400
    fifty_days_ago = timezone.now() - timedelta(days=50)
    visit = PersonVisit.objects.create(
        site=store["site"], person_id=7, started_at=fifty_days_ago, ended_at=fifty_days_ago
    )
    RetentionSetting.objects.create(data_class="visits", days=30)
    job = RetentionJob(backend=None, interval_s=0.2)
    job.start()
    try:
        deadline = time.monotonic() + 20
        while not PurgeRun.objects.filter(trigger="schedule").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        job.stop()
    run = PurgeRun.objects.filter(trigger="schedule").order_by("started_at").first()
    assert run is not None
    assert run.deleted["visits"] == 1
    assert not PersonVisit.objects.filter(pk=visit.pk).exists()
