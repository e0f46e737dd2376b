"""Webhook signatures, retry delays and MQTT topic names."""

from __future__ import annotations

import random

import pytest

from server.notifications.backoff import retry_delay_s
from server.notifications.signing import signature, signature_header, verify
from server.notifications.topics import discovery_messages, site_slugs, slugify

BODY = b'{"event":"test"}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signature(secret="k", timestamp=1700000000, body=BODY) == expected
    assert signature_header(secret="k", timestamp=1700000000, body=BODY) == f"t=1700000000,v1={expected}"


@pytest.mark.parametrize(
    ("secret", "body", "now", "valid"),
    [
        ("k", BODY, 1700000000, True),
        ("k", BODY, 1700000299, True),
        ("k", BODY, 1700000301, False),  # too old: a replay
        ("other", BODY, 1700000000, False),
        ("k", BODY + b" ", 1700000000, False),  # the body changed
    ],
)
def test_verify(secret, body, now, valid):
    header = signature_header(secret="k", timestamp=1700000000, body=BODY)
    assert verify(secret=secret, header=header, body=body, now=now) is valid


@pytest.mark.parametrize("header", ["", "t=abc,v1=00", "v1=00", "t=1700000000"])
def test_verify_refuses_malformed_headers(header):
    assert verify(secret="k", header=header, body=BODY, now=1700000000) is False


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(1, 2.5, 5.0), (2, 5.0, 10.0), (3, 10.0, 20.0), (10, 1280.0, 2560.0), (60, 1800.0, 3600.0)],
)
def test_retry_delay_grows_exponentially_with_jitter_and_a_cap(attempt, low, high):
    rng = random.Random(7)
    delays = [retry_delay_s(attempt, base_s=5, max_s=3600, rng=rng) for _ in range(200)]
    assert all(low <= d < high for d in delays)
    assert len({round(d, 6) for d in delays}) > 150  # jittered, not in step


def test_retry_delay_counts_from_one():
    with pytest.raises(ValueError, match="from 1"):
        retry_delay_s(0, base_s=1, max_s=10)


@pytest.mark.parametrize(
    ("sites", "slugs"),
    [
        ([(1, "Store 12, Main Street")], {1: "store-12-main-street"}),
        ([(1, "Café Zürich")], {1: "cafe-zurich"}),
        ([(3, "!!!")], {3: "site-3"}),
        ([(1, "Store"), (2, "store"), (3, "Other")], {1: "store-1", 2: "store-2", 3: "other"}),
    ],
)
def test_site_slugs_are_unique(sites, slugs):
    assert site_slugs(sites) == slugs


def test_slugify_keeps_topics_free_of_wildcards():
    assert slugify("a/b+c#d") == "a-b-c-d"


def test_home_assistant_discovery_points_at_the_state_topics():
    messages = dict(
        discovery_messages(prefix="retail", discovery_prefix="ha", site_id=4, slug="s", site_name="S")
    )
    occupancy = messages["ha/sensor/retail_4_occupancy/config"]
    assert occupancy["state_topic"] == "retail/s/occupancy"
    assert occupancy["availability_topic"] == "retail/status"
    assert occupancy["unique_id"] == "retail_vision_4_occupancy"
    visits = messages["ha/sensor/retail_4_visits_today/config"]
    assert visits["state_topic"] == "retail/s/counts"
    assert visits["value_template"] == "{{ value_json.visits_today }}"
