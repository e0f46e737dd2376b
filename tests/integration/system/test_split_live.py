"""The split layout of docs/operations.md through every live feature: a web-only process (`retail-server run
--no-grpc`) beside an ingest-only one (`--no-http`), sharing PostgreSQL and Redis. A box streams two people to the
ingest process; everything below is asked of the web process, which holds no fusion:

- live occupancy (REST) counts them in their zones, and the WebSocket names each one's zone;
- a badge read at the reader binds the employee standing there (positions from the shared live state);
- the binding reaches the fusion in the ingest process: the employee is named on the live map and in who is
  where, and may enter the restricted zone, while the unbadged visitor walking in beside them raises the alarm.

Before the live state was shared, the badge event answered 404 and occupancy was always empty here.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import websockets
from django.contrib.auth.models import Group, User

from proto.retail.v1 import edge_service_pb2, track_pb2
from server.accounts.roles import ensure_roles
from server.devices.services import device_create, device_set_credentials
from server.inventory.models import Camera, FloorPlan, Site, Zone, ZoneKind
from server.people.models import Employee, SecurityLevel
from tests.support.django_system import session_cookie, shared_database_url
from tests.support.edge_client import stream
from tests.support.live import clear_live_state
from tests.support.processes import BIN, REPO_ROOT, free_port, log_tail, running, wait_http

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SECRET = "split-live-secret-0123456789abcdefghijklmnop"
CSRF_TOKEN = (
    "splitlayoutcsrftoken0123456789ab"  # any 32 letters and digits: Django compares cookie and header
)
READER = (18.0, 5.0)
KIM_START, VISITOR_START = READER, (17.0, 12.0)
KIM_INSIDE, VISITOR_INSIDE = (23.0, 5.0), (23.0, 12.0)
FPS = 20
WALK_MPS = 2.0


def _store() -> dict[str, Any]:
    site = Site.objects.create(name="Split store")
    FloorPlan.objects.create(site=site, width_m=30, height_m=20)
    doorway = Zone.objects.create(
        site=site, name="Doorway", polygon=[[14, 0], [19.5, 0], [19.5, 20], [14, 20]]
    )
    stock = Zone.objects.create(
        site=site,
        name="Stock room",
        kind=ZoneKind.RESTRICTED,
        polygon=[[20, 0], [30, 0], [30, 20], [20, 20]],
        required_level=2,
        warning_distance_m=0.5,
    )
    manager = SecurityLevel.objects.create(name="Manager", rank=2)
    kim = Employee.objects.create(name="Kim", level=manager, badge_id="B-7")
    device = device_create(site=site, name="split box")
    device_set_credentials(device=device, secret=SECRET)
    camera = Camera.objects.create(site=site, device=device, name="split cam")
    ensure_roles()
    user = User.objects.create_user(username="split-staff")
    user.groups.add(Group.objects.get(name="staff"))
    return {
        "site": site.pk,
        "doorway": doorway.pk,
        "stock": stock.pk,
        "kim": kim.pk,
        "device": device.pk,
        "camera": camera.pk,
    }


class Scene:
    """Two people in front of the camera; each walks towards its target at WALK_MPS, one frame per 1/FPS s."""

    def __init__(self) -> None:
        self.positions = {1: KIM_START, 2: VISITOR_START}
        self.targets = dict(self.positions)
        self.stopped = False

    def _step(self) -> None:
        for local_id, (x, y) in self.positions.items():
            tx, ty = self.targets[local_id]
            distance = math.hypot(tx - x, ty - y)
            step = min(distance, WALK_MPS / FPS)
            if distance > 0:
                self.positions[local_id] = (x + (tx - x) * step / distance, y + (ty - y) * step / distance)

    def frames(self, camera_id: int) -> Iterator[bytes]:
        sequence = 0
        while not self.stopped:
            sequence += 1
            self._step()
            frame = track_pb2.TrackFrame(
                camera_id=camera_id, sequence=sequence, capture_time_us=time.time_ns() // 1000
            )
            ids = sorted(self.positions)
            frame.local_id_deltas.extend([ids[0], *(b - a for a, b in itertools.pairwise(ids))])
            frame.bbox_x_px.extend([100 + 200 * i for i in range(len(ids))])
            frame.bbox_y_px.extend([200] * len(ids))
            frame.bbox_w_px.extend([40] * len(ids))
            frame.bbox_h_px.extend([120] * len(ids))
            frame.floor_x_cm.extend([round(self.positions[i][0] * 100) for i in ids])
            frame.floor_y_cm.extend([round(self.positions[i][1] * 100) for i in ids])
            frame.score_permille.extend([900] * len(ids))
            frame.state.extend([track_pb2.TRACK_STATE_CONFIRMED] * len(ids))
            yield edge_service_pb2.EdgeMessage(frame=frame).SerializeToString()


class Web:
    """REST calls to the web process as the logged-in dashboard makes them (session cookie, CSRF token, same
    origin), from a worker thread."""

    def __init__(self, port: int, cookie: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.headers = {
            "Cookie": f"sessionid={cookie}; csrftoken={CSRF_TOKEN}",
            "X-CSRFToken": CSRF_TOKEN,
            "Origin": self.base,
            "Content-Type": "application/json",
        }

    def _call(self, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    async def get(self, path: str) -> tuple[int, Any]:
        return await asyncio.to_thread(self._call, path, None)

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return await asyncio.to_thread(self._call, path, body)


async def _until(what: str, probe: Callable[[], Any], timeout_s: float, context: Callable[[], str]) -> Any:
    """Await `probe()` (a coroutine function or a plain one) until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s\n{context()}")
        await asyncio.sleep(0.1)


def _nearest(event: dict[str, Any], xy: tuple[float, float]) -> dict[str, Any]:
    return min(event["persons"], key=lambda p: math.hypot(p["x_m"] - xy[0], p["y_m"] - xy[1]))


async def _scenario(
    http_port: int, grpc_port: int, cookie: str, store: dict[str, Any], logs: Callable[[], str]
) -> None:
    web = Web(http_port, cookie)
    site = store["site"]
    events: list[dict[str, Any]] = []
    scene = Scene()
    headers = {"Cookie": f"sessionid={cookie}", "Origin": f"http://127.0.0.1:{http_port}"}
    async with websockets.connect(
        f"ws://127.0.0.1:{http_port}/ws/sites/{site}/", additional_headers=headers
    ) as ws:

        async def receive() -> None:
            async for message in ws:
                events.append(json.loads(message))

        receiver = asyncio.create_task(receive())
        streamer = asyncio.create_task(
            stream(
                grpc_port,
                store["device"],
                SECRET,
                scene.frames(store["camera"]),
                pace_s=1 / FPS,
                linger_s=0.2,
            )
        )

        def live_events() -> list[dict[str, Any]]:
            return [e for e in events if e.get("type") == "live.positions" and e["persons"]]

        def context() -> str:
            recent = live_events()[-1:]
            return f"last live event: {recent[0] if recent else None}\n{logs()}"

        try:
            # Live occupancy, read by the web process from the live state the ingest process publishes.
            async def both_in_doorway() -> Any:
                status, body = await web.get(f"/api/sites/{site}/analytics/occupancy")
                assert status == 200, body
                zones = {z["zone_id"]: z for z in body["zones"]}
                return (
                    body
                    if body["live"] and len(zones.get(store["doorway"], {}).get("person_ids", [])) == 2
                    else None
                )

            occupancy = await _until("both people in the doorway (occupancy)", both_in_doorway, 20, context)
            assert occupancy["site"] == 2
            assert occupancy["who_is_where"] == []
            await _until(
                "both people on the live map",
                lambda: any(len(e["persons"]) == 2 for e in live_events()[-1:]),
                10,
                context,
            )
            latest = live_events()[-1]
            kim_id = _nearest(latest, KIM_START)["id"]
            visitor_id = _nearest(latest, VISITOR_START)["id"]
            assert kim_id != visitor_id
            assert {p["id"]: p.get("zone_ids") for p in latest["persons"]} == {
                kim_id: [store["doorway"]],
                visitor_id: [store["doorway"]],
            }

            # A badge read at the reader, sent to the web process, binds the person standing there.
            status, body = await web.post(
                "/api/badge-events",
                {"site": site, "badge_id": "B-7", "reader_x_m": READER[0], "reader_y_m": READER[1]},
            )
            assert status == 201, f"{body}\n{context()}"
            assert body["binding"]["person_id"] == kim_id
            assert body["binding"]["employee"] == store["kim"]

            # The binding reaches the fusion of the ingest process: Kim is named on the live map.
            def kim_named() -> bool:
                recent = live_events()[-1:]
                return bool(recent) and any(
                    p["id"] == kim_id and p.get("name") == "Kim" for p in recent[0]["persons"]
                )

            await _until("Kim named on the live map", kim_named, 10, context)

            # Both walk into the stock room: Kim may (level 2), the visitor may not.
            scene.targets = {1: KIM_INSIDE, 2: VISITOR_INSIDE}

            def alerts_for(person_id: int) -> list[dict[str, Any]]:
                return [
                    e["alert"]
                    for e in events
                    if e.get("type") == "alert.changed" and e["alert"].get("person_id") == person_id
                ]

            await _until(
                "an alarm for the visitor",
                lambda: any(a["kind"] == "alarm" for a in alerts_for(visitor_id)),
                15,
                context,
            )

            async def both_in_stock_room() -> Any:
                status, body = await web.get(f"/api/sites/{site}/analytics/occupancy")
                zones = {z["zone_id"]: z for z in body["zones"]}
                inside = set(zones.get(store["stock"], {}).get("person_ids", []))
                left = not zones.get(store["doorway"], {}).get("count")  # a visit ends 1 s after leaving
                return body if status == 200 and inside == {kim_id, visitor_id} and left else None

            occupancy = await _until(
                "both people in the stock room (occupancy)", both_in_stock_room, 15, context
            )
            assert {z["zone_id"]: z["count"] for z in occupancy["zones"]} == {
                store["doorway"]: 0,
                store["stock"]: 2,
            }
            # Who is where, from the web process: Kim, in the stock room.
            assert [
                (w["person_id"], w["name"], w["employee_id"], w["zone_ids"])
                for w in occupancy["who_is_where"]
            ] == [(kim_id, "Kim", store["kim"], [store["stock"]])]
            await asyncio.sleep(1.0)  # an alarm for Kim would have come by now
            latest = live_events()[-1]
            kim = next(p for p in latest["persons"] if p["id"] == kim_id)
            assert (kim.get("name"), kim.get("zone_id")) == ("Kim", store["stock"]), context()
            assert alerts_for(kim_id) == [], f"Kim holds the level the stock room needs: {alerts_for(kim_id)}"
        finally:
            scene.stopped = True
            result = await streamer
            receiver.cancel()
    assert result.error is None, f"stream ended with {result.error}\n{logs()}"


def test_every_live_feature_through_a_web_only_process_beside_an_ingest_only_one(tmp_path: Path) -> None:
    clear_live_state()  # site ids restart with each test database: no snapshots of an earlier run's site 1
    store = _store()
    cookie = session_cookie("split-staff")
    env = {
        "DJANGO_SETTINGS_MODULE": "server.config.settings.local",
        "DATABASE_URL": shared_database_url(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "RETAIL_DATA_DIR": str(tmp_path / "data"),
        "LIVE_PUSH_HZ": "5",
        # This checkout's code, whichever checkout the installed `retail-server` script was installed from.
        "PYTHONPATH": str(REPO_ROOT),
    }
    http_port, grpc_port = free_port(), free_port()
    server = [str(BIN / "retail-server"), "run", "--no-migrate"]
    logs = [tmp_path / "web.log", tmp_path / "ingest.log"]
    with (
        running([*server, "--no-grpc", "--http", f"127.0.0.1:{http_port}"], env=env, log_path=logs[0]) as web,
        running(
            [*server, "--no-http", "--grpc", f"127.0.0.1:{grpc_port}"], env=env, log_path=logs[1]
        ) as ingest,
    ):

        def tails() -> str:
            return "\n".join(f"--- {path.name}\n{log_tail(path, 2000)}" for path in logs)

        try:
            wait_http(f"http://127.0.0.1:{http_port}/api/health", process=web)
            with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
                grpc.channel_ready_future(channel).result(timeout=60)
        except (RuntimeError, grpc.FutureTimeoutError) as err:
            raise AssertionError(f"{err}\n{tails()}") from err
        asyncio.run(_scenario(http_port, grpc_port, cookie, store, tails))
        assert web.poll() is None, tails()
        assert ingest.poll() is None, tails()
