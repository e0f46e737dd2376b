"""retail_common.redaction, the one set of login rules of the edge (one source) and the server (free text): no login
survives either redactor for random URLs (seeded), and both give the same text for a plain URL."""

from __future__ import annotations

import random
import string

import pytest

from edge_agent.capture import redact_source as edge_redact_source
from retail_common.redaction import (
    SECRET_QUERY_NAMES,
    fill_parameter_secrets,
    is_secret_query_name,
    parameter_secret_names,
    redact_source,
    redact_text,
    split_parameter_secrets,
)
from server.inventory.models import redact_source_credentials

SEEDS = range(60)
_SAFE = string.ascii_letters + string.digits + "-._~"
_PASSWORD = _SAFE + "!$'()*+,;=:%"  # userinfo characters, a raw ":" too


def _word(rng: random.Random, alphabet: str = _SAFE, low: int = 1, high: int = 12) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def _url(rng: random.Random) -> tuple[str, list[str]]:
    """A random camera URL (always with a path) and the secrets in it."""
    secrets: list[str] = []
    scheme = rng.choice(["rtsp", "rtsps", "http", "https"])
    userinfo = ""
    if rng.random() < 0.7:
        user, password = "u" + _word(rng), "P" + _word(rng, _PASSWORD, 6, 16)
        userinfo = f"{user}:{password}@"
        secrets.append(password)
    host = rng.choice(["cam", "10.0.0.5", "cam.example"]) + rng.choice(["", ":554", ":8080"])
    path = "/" + "/".join(_word(rng) for _ in range(rng.randint(1, 3)))
    items = []
    for _ in range(rng.randint(0, 4)):
        if rng.random() < 0.5:
            name = rng.choice([*SECRET_QUERY_NAMES, "PWD", "api-key", "X-Auth-Token", "session_id"])
            value = "S" + _word(rng, _SAFE, 6, 12)
            secrets.append(value)
        else:
            name, value = rng.choice(["res", "channel", "stream", "fps"]), _word(rng)
        items.append(f"{name}={value}")
    query = ("?" + "&".join(items)) if items else ""
    return f"{scheme}://{userinfo}{host}{path}{query}", secrets


@pytest.mark.parametrize("seed", SEEDS)
def test_no_secret_survives_and_both_redactors_agree_on_a_plain_url(seed: int) -> None:
    rng = random.Random(seed)
    url, secrets = _url(rng)
    one, text = redact_source(url), redact_text(url)
    assert one == text
    assert edge_redact_source(url) == one == redact_source_credentials(url)  # the two sides' names for them
    sentence = f"camera 3: opening {url} failed: timeout"
    for secret in secrets:
        assert secret not in one
        assert secret not in redact_text(sentence)
    assert redact_source(one) == one  # idempotent
    assert url.split("://")[0] + "://" in one


@pytest.mark.parametrize("seed", SEEDS)
def test_what_is_not_a_login_is_kept(seed: int) -> None:
    rng = random.Random(seed)
    path = "/videos/" + _word(rng) + "@" + _word(rng) + ".avi"
    assert redact_source(path) == path
    url = f"rtsp://cam:554/{_word(rng)}?res={_word(rng)}&channel=2"
    assert redact_source(url) == url == redact_text(url)


@pytest.mark.parametrize(
    ("name", "secret"),
    [("user", True), ("PWD", True), ("api-key", True), ("X-Auth-Token", True), ("login%70as", True),
     ("res", False), ("channel", False), ("fps", False), ("subtype", False)],
)  # fmt: skip
def test_secret_query_names(name: str, secret: bool) -> None:
    assert is_secret_query_name(name) is secret


@pytest.mark.parametrize(
    "url",
    [
        "rtsp://admin:se/cret@cam/stream",
        "rtsp://admin:se/cret@cam:554/stream?channel=1",
        "rtsp://admin:a/b/c@cam",
        "http://admin:p/w@cam/snap.cgi?res=1",
        "RTSP://admin:se/cret@cam/stream",
    ],
)
def test_a_raw_slash_in_the_password_does_not_show_it(url: str) -> None:
    # A password typed with a raw "/" (not %2F): FFmpeg then takes "admin:se" for the host, the camera cannot be
    # opened, and the error that says so would show the password.
    secret = url.split("://")[1].rpartition("@")[0].partition(":")[2]
    for shown in (
        redact_source(url),
        edge_redact_source(url),
        redact_text(url),
        redact_text(f"camera 3: cannot open video source {url} (timeout)"),
    ):
        assert secret not in shown
        assert secret.partition("/")[2] not in shown
        assert "@cam" in shown
    assert redact_text(f"opening {url}") == f"opening {redact_source(url)}"


def _semicolon_url(rng: random.Random) -> tuple[str, list[str]]:
    """A random camera URL whose parameters are separated by ";" as well as "&": path parameters
    (`/stream;password=x`) and queries like `?a=1;token=x`; and the secrets in it."""
    secrets: list[str] = []

    def parameter() -> str:
        if rng.random() < 0.5:
            name = rng.choice([*SECRET_QUERY_NAMES, "password", "PWD", "api-key", "X-Auth-Token", "token"])
            value = "S" + _word(rng, _SAFE, 6, 12)
            secrets.append(value)
            return f"{name}={value}"
        return f"{rng.choice(['res', 'channel', 'stream', 'fps'])}={_word(rng)}"

    segments = []
    for _ in range(rng.randint(1, 3)):
        segment = _word(rng)
        for _ in range(rng.randint(0, 2)):
            segment += ";" + parameter()
        segments.append(segment)
    query = ""
    for index in range(rng.randint(0, 4)):
        query += ("?" if index == 0 else rng.choice(";&")) + parameter()
    return f"{rng.choice(['rtsp', 'http'])}://cam:554/{'/'.join(segments)}{query}", secrets


@pytest.mark.parametrize("seed", SEEDS)
def test_parameters_separated_by_semicolons_are_redacted(seed: int) -> None:
    url, secrets = _semicolon_url(random.Random(seed))
    one, text = redact_source(url), redact_text(url)
    assert one == text == edge_redact_source(url)
    for secret in secrets:
        assert secret not in one, url
        assert secret not in redact_text(f"camera 3: opening {url} failed: timeout")
    assert redact_source(one) == one
    assert one.partition("=")[0] == url.partition("=")[0]  # up to the first value, nothing is hidden


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://cam/stream;password=secret", "rtsp://cam/stream;password=***"),
        ("http://cam/snap.cgi?a=1;token=x", "http://cam/snap.cgi?a=1;token=***"),
        (
            "rtsp://cam/live;res=hd/main?channel=1;pwd=s3&fps=5",
            "rtsp://cam/live;res=hd/main?channel=1;pwd=***&fps=5",
        ),
        # A parameter that is not a login hides nothing, nor does it hide a login after it.
        ("rtsp://cam/a;res=1/b?token=y", "rtsp://cam/a;res=1/b?token=***"),
        ("rtsp://cam/a?res=1?pwd=y", "rtsp://cam/a?res=1?pwd=***"),
        # A secret's value runs to the next separator, a raw "/" or "?" in it too.
        ("rtsp://cam/a;password=se/cr?et;res=1", "rtsp://cam/a;password=***;res=1"),
        ("rtsp://cam/a;b", "rtsp://cam/a;b"),
    ],
)
def test_semicolon_parameters_examples(url: str, shown: str) -> None:
    assert redact_source(url) == shown == redact_text(url)
    assert redact_text(f"open {url} refused") == f"open {shown} refused"


@pytest.mark.parametrize("seed", SEEDS)
def test_semicolon_parameters_split_out_as_redacted_and_filled_back(seed: int) -> None:
    # What the server stores of a source URL (its `source_uri`) is what logs show of it, and the values split out
    # put the URL back together for the edge box.
    url, secrets = _semicolon_url(random.Random(seed))
    stored, values = split_parameter_secrets(url)
    assert stored == redact_source(url)
    for secret in secrets:  # split out (a value runs on through a raw "?": a secret after it goes with it)
        assert secret not in stored
        assert any(secret in value for value in values)
    assert fill_parameter_secrets(stored, values) == url
    assert split_parameter_secrets(stored) == (stored, ["***"] * len(values))


@pytest.mark.parametrize(
    ("url", "stored", "values"),
    [
        ("rtsp://cam/stream;password=secret", "rtsp://cam/stream;password=***", ["secret"]),
        ("http://cam/snap.cgi?a=1;token=x&fps=5", "http://cam/snap.cgi?a=1;token=***&fps=5", ["x"]),
        ("http://cam?a=1;token=x", "http://cam?a=1;token=***", ["x"]),
        ("rtsp://cam/a;password=se/cr?et;res=1", "rtsp://cam/a;password=***;res=1", ["se/cr?et"]),
        ("rtsp://cam/a;res=1/b", "rtsp://cam/a;res=1/b", []),
        ("/videos/a;token=1.mp4", "/videos/a;token=1.mp4", []),  # a file path is no URL
        ("usb:0", "usb:0", []),
    ],
)
def test_split_parameter_secrets_examples(url: str, stored: str, values: list[str]) -> None:
    assert split_parameter_secrets(url) == (stored, values)
    assert fill_parameter_secrets(stored, values) == url
    assert len(parameter_secret_names(url)) == len(values) == len(parameter_secret_names(stored))


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # A URL without a path whose query holds a raw "/" (legal in a query): the "/" is no path, the login
        # before it is a query login all the same (the edge box's logs once showed it in clear).
        ("http://192.168.1.5?user=admin&pwd=abc/def", "http://192.168.1.5?user=***&pwd=***"),
        ("rtsp://cam:554?a=1;password=s/ecret", "rtsp://cam:554?a=1;password=***"),
        ("http://u:p@cam?token=a/b", "http://***@cam?token=***"),
        ("http://cam?res=1/2&fps=5", "http://cam?res=1/2&fps=5"),
    ],
)
def test_a_raw_slash_in_a_query_without_a_path_does_not_show_the_login(url: str, shown: str) -> None:
    assert redact_source(url) == shown == redact_text(url) == edge_redact_source(url)


@pytest.mark.parametrize("seed", range(400))
def test_the_stored_source_is_what_logs_show(seed: int) -> None:
    # Random paths and queries (separators, raw "/" and "?" anywhere): what the server stores of a URL without
    # userinfo (split_parameter_secrets) is what the edge box's logs show (redact_source), and it fills back.
    rng = random.Random(seed)
    pieces = ["/", "?", ";", "&", "=", "#", "a", "x1", "password", "token", "res", "user"]
    host = "rtsp://cam" + rng.choice(["", ":554"]) + rng.choice("/?")
    url = host + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
    stored, values = split_parameter_secrets(url)
    assert stored == redact_source(url) == edge_redact_source(url), url
    assert fill_parameter_secrets(stored, values) == url
