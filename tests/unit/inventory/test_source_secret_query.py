"""Which query parameters of a camera source URL count as its login (moved out, write-only, redacted)."""

from __future__ import annotations

import pytest

from server.inventory.models import (
    is_secret_query_name,
    join_source_credentials,
    redact_source_credentials,
    split_secret_query,
)


@pytest.mark.parametrize(
    "name",
    [
        "user",
        "USER",
        "username",
        "pwd",
        "PWD",
        "password",
        "PassWord",
        "passwd",
        "pass",
        "loginuse",
        "loginpas",
        "token",
        "access_token",
        "Api-Key",
        "api_key",
        "apikey",
        "key",
        "secret",
        "client_secret",
        "auth",
        "sig",
        "sessionid",
        "credentials",
        "pin",
    ],
)
def test_credential_like_names_are_secret(name: str) -> None:
    assert is_secret_query_name(name)


@pytest.mark.parametrize(
    "name", ["res", "resolution", "channel", "subtype", "stream", "fps", "keyframe", "count"]
)
def test_other_names_are_not(name: str) -> None:
    assert not is_secret_query_name(name)


def test_split_keeps_the_rest_of_the_url_and_join_puts_the_secrets_back() -> None:
    uri = "http://cam:8080/snap.cgi?res=hd&user=a%20b&channel=2&pwd=p%26q#frag"
    clean, secret = split_secret_query(uri)
    assert clean == "http://cam:8080/snap.cgi?res=hd&channel=2#frag"
    assert secret == "user=a%20b&pwd=p%26q"  # as written: the encoding is kept
    assert join_source_credentials(clean, "", "", secret) == (
        "http://cam:8080/snap.cgi?res=hd&channel=2&user=a%20b&pwd=p%26q#frag"
    )
    assert (
        join_source_credentials("http://cam/snap.cgi", "u", "p", "pwd=x") == "http://u:p@cam/snap.cgi?pwd=x"
    )
    for unchanged in ("/videos/a.avi?pwd=x", "usb:0", "rtsp://cam/live?channel=1"):
        assert split_secret_query(unchanged) == (unchanged, "")


def test_redact_hides_the_values_only() -> None:
    text = "opening rtsp://u:p@cam/live?channel=1&Token=abc failed; retry http://cam/snap?pwd=x"
    assert redact_source_credentials(text) == (
        "opening rtsp://***@cam/live?channel=1&Token=*** failed; retry http://cam/snap?pwd=***"
    )
