"""Adversarial review: `retail-server demo --http 0.0.0.0:8000` (a demo for a whole room) created the superuser
admin/admin on an address every machine of the network reaches. Off loopback the demo users get random passwords
(printed by the launcher); on this machine only they keep the well-known ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from server.demo.setup import setup_demo
from server.demo.users import DEMO_USERS, demo_passwords

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_a_demo_reachable_from_the_network_has_no_well_known_passwords(
    host: str, settings: Any, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path
    passwords = demo_passwords(host)
    demo = setup_demo(video_path=str(tmp_path / "video.avi"), passwords=passwords)
    assert set(demo.created_users) == {username for username, _ in DEMO_USERS}
    for username, well_known in DEMO_USERS:
        user = get_user_model().objects.get(username=username)
        assert not user.check_password(well_known), username
        assert user.check_password(passwords[username])
        assert len(passwords[username]) >= 16


def test_a_demo_on_this_machine_keeps_the_documented_passwords(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path
    setup_demo(video_path=str(tmp_path / "video.avi"), passwords=demo_passwords("127.0.0.1"))
    assert get_user_model().objects.get(username="admin").check_password("admin")
    # Run again: existing users keep their passwords, whatever this run would give new ones.
    again = setup_demo(video_path=str(tmp_path / "video.avi"), passwords=demo_passwords("0.0.0.0"))
    assert again.created_users == ()
    assert get_user_model().objects.get(username="admin").check_password("admin")


def test_the_demo_s_cameras_have_an_analysis_rate(settings: Any, tmp_path: Path) -> None:
    # 0 ("as fast as possible") sized the agent's trackers for 30 fps whatever rate the CPU reached: about 50
    # people live for the 30-odd the cameras see (benchmarks/demo_people.py).
    from server.demo.cameras import ANALYSIS_RATE_HZ
    from server.inventory.models import Camera

    settings.DATA_DIR = tmp_path
    demo = setup_demo(video_path=str(tmp_path / "video.avi"))
    rates = list(Camera.objects.filter(pk__in=demo.camera_ids).values_list("analysis_rate_hz", flat=True))
    assert rates == [ANALYSIS_RATE_HZ, ANALYSIS_RATE_HZ]
    assert demo.analysis_fps == ANALYSIS_RATE_HZ > 0
