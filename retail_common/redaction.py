"""Camera source URLs carry their login: `rtsp://user:pass@host/...`, `snapshot.cgi?user=admin&pwd=x`. The rules
that keep it out of what people see, written once for the edge (its logs, errors and heartbeats) and the server
(the URL the API shows, a box's error messages):

- the userinfo of a URL becomes ``***@``; it runs to the authority's last ``@``, or, when the authority has none
  but the part before the query does, to that part's last ``@`` (a password typed with a raw ``/``: FFmpeg then
  takes its first half for the host, the camera cannot be opened, and the error that says so shows the URL). A
  URL whose path holds an ``@`` loses its host in what is shown: hidden too much, never too little;
- the value of every credential-like URL parameter (:func:`is_secret_query_name`) becomes ``***``: a query's
  (`?user=a&pwd=b`, also separated by ``;``: `?a=1;token=x`) and a path parameter's (`/stream;password=x`).

:func:`redact_source` takes one source as configured; :func:`redact_text` finds URLs in free text (an edge box's
error message) and is linear in the text whatever a box sends (the server runs it in the ingest's event loop).
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

# Query parameters that carry a login or a key (`snapshot.cgi?user=admin&pwd=x`, Foscam's `loginuse`/`loginpas`,
# `?token=`, `?api_key=`): matched on the lower-cased name, exactly or by a fragment in it.
SECRET_QUERY_NAMES = frozenset(
    {
        "user",
        "username",
        "usr",
        "uname",
        "login",
        "loginuse",
        "loginpas",
        "pw",
        "pin",
        "key",
        "sig",
        "signature",
    }
)
SECRET_QUERY_FRAGMENTS = (
    "pass",
    "pwd",
    "token",
    "secret",
    "auth",
    "apikey",
    "api_key",
    "credential",
    "session",
)


def is_secret_query_name(name: str) -> bool:
    """Whether a query parameter of this name (percent- or plus-encoded, any case, ``-`` for ``_``) is a login."""
    lowered = unquote_plus(name).strip().lower().replace("-", "_")
    return lowered in SECRET_QUERY_NAMES or any(fragment in lowered for fragment in SECRET_QUERY_FRAGMENTS)


# A URL parameter: after "?" or "&" (a query), or ";" (a path parameter, `/stream;password=x`, or a query
# separated by semicolons, `?a=1;token=x`), a name, then "=". The value of a secret one runs to the next "&", ";",
# "#" or blank (through a raw "/" or "?" in it: hidden too much, never too little); the value of any other is not
# consumed, so that a parameter after it (`;res=1/x?token=y`) is looked at too.
_PARAMETER_NAME = re.compile(r"[?&;](?P<name>[^=&;#?/\s]+)=")
_VALUE_END = re.compile(r"[&;#\s]")
HIDDEN = "***"  # what a hidden login or parameter value shows


def _secret_parameters(text: str, start: int = 0) -> list[tuple[str, int, int]]:
    """The name and the (start, end) of the value of every credential-like URL parameter
    (:func:`is_secret_query_name`) in `text` from `start`; linear in the text (each character is scanned once by
    each of the two patterns)."""
    found: list[tuple[str, int, int]] = []
    kept_from = start
    for match in _PARAMETER_NAME.finditer(text, start):
        if match.start() < kept_from or not is_secret_query_name(match["name"]):
            continue
        end = _VALUE_END.search(text, match.end())
        kept_from = end.start() if end else len(text)
        found.append((match["name"], match.end(), kept_from))
    return found


def _secret_value_spans(text: str, start: int = 0) -> list[tuple[int, int]]:
    return [(value_start, value_end) for _, value_start, value_end in _secret_parameters(text, start)]


def _redact_parameters(text: str) -> str:
    """`text` with the value of every credential-like URL parameter as ``***``."""
    parts: list[str] = []
    kept_from = 0
    for value_start, value_end in _secret_value_spans(text):
        parts += [text[kept_from:value_start], HIDDEN]
        kept_from = value_end
    return "".join([*parts, text[kept_from:]])


def _tail_start(source: str) -> int | None:
    """Where the path (or, without one, the query) of a URL without userinfo begins; None for a file path or
    `usb:N` (no ``://``): the part :func:`redact_source` scans for parameters."""
    scheme, sep, rest = source.partition("://")
    if not sep:
        return None
    ends = [found for found in (rest.find(mark) for mark in "/?") if found >= 0]
    return len(scheme) + len(sep) + (min(ends) if ends else len(rest))


def split_parameter_secrets(source: str) -> tuple[str, list[str]]:
    """A source URL without userinfo as :func:`redact_source` shows it, and the values it hid, in order:
    `rtsp://cam/stream;password=x?a=1;token=y` → (`rtsp://cam/stream;password=***?a=1;token=***`, ["x", "y"]).
    :func:`fill_parameter_secrets` puts them back. File paths and `usb:N` come back unchanged."""
    start = _tail_start(source)
    if start is None:
        return source, []
    spans = _secret_value_spans(source, start)
    if not spans:
        return source, []
    parts: list[str] = []
    kept_from = 0
    for value_start, value_end in spans:
        parts += [source[kept_from:value_start], HIDDEN]
        kept_from = value_end
    return "".join([*parts, source[kept_from:]]), [source[a:b] for a, b in spans]


def parameter_secret_names(source: str) -> list[str]:
    """The names of the parameters :func:`split_parameter_secrets` hides in `source`, in order."""
    start = _tail_start(source)
    return [] if start is None else [name for name, _, _ in _secret_parameters(source, start)]


def fill_parameter_secrets(redacted: str, values: list[str]) -> str:
    """The inverse of :func:`split_parameter_secrets`: the k-th hidden parameter value of `redacted` becomes
    ``values[k]`` (a hidden value without one stays ``***``)."""
    start = _tail_start(redacted)
    if start is None or not values:
        return redacted
    parts: list[str] = []
    kept_from = 0
    for index, (value_start, value_end) in enumerate(_secret_value_spans(redacted, start)):
        if index < len(values):
            parts += [redacted[kept_from:value_start], values[index]]
            kept_from = value_end
    return "".join([*parts, redacted[kept_from:]])


def _slashed_userinfo_end(rest: str, authority_end: int) -> int:
    """In ``rest`` (a URL after its ``://``) whose authority (up to ``authority_end``, the first ``/``) has no
    ``@``: the index of the last ``@`` before the query or fragment, where a userinfo with a raw ``/`` ends; -1
    when there is none."""
    head_end = len(rest)
    for mark in "?#":
        found = rest.find(mark, authority_end)
        if 0 <= found < head_end:
            head_end = found
    return rest.rfind("@", authority_end, head_end)


def split_userinfo(source: str) -> tuple[str, str | None]:
    """`rtsp://user:pass@host/x` → (`rtsp://host/x`, "user:pass"), as written (percent-encoding kept); (source,
    None) without a login. A password typed with a raw "/" (`rtsp://admin:se/cret@cam/x`) is a login too: the
    text before the first "/" is `user:password` (a colon not followed by a port number) and the login runs to
    the last "@" before the query. `rtsp://cam:554/stream@1` and `rtsp://cam/a@b` have no login."""
    scheme, sep, rest = source.partition("://")
    if not sep:
        return source, None
    ends = [found for found in (rest.find(mark) for mark in "/?#") if found >= 0]
    authority_end = min(ends) if ends else len(rest)
    authority = rest[:authority_end]
    if "@" in authority:
        at = authority.rfind("@")
    elif rest[authority_end : authority_end + 1] == "/" and ":" in authority:
        after_colon = authority.partition(":")[2]
        at = -1 if after_colon.isdigit() else _slashed_userinfo_end(rest, authority_end)
    else:
        at = -1
    if at < 0:
        return source, None
    return f"{scheme}://{rest[at + 1 :]}", rest[:at]


def redact_source(source: str) -> str:
    """A source as logs, errors and heartbeats may show it: `rtsp://user:pass@host/...` → `rtsp://***@host/...`,
    `http://cam/snap.cgi?user=admin&pwd=x` → `http://cam/snap.cgi?user=***&pwd=***`. File paths and `usb:N`
    come back unchanged."""
    scheme, sep, rest = source.partition("://")
    if not sep:
        return source
    authority, slash, tail = rest.partition("/")
    if slash and "@" not in authority:
        at = _slashed_userinfo_end(rest, len(authority))
        if at >= 0:
            authority, slash, tail = f"***{rest[at:]}".partition("/")
    if not slash and "?" in authority:  # http://cam?user=… (no path)
        authority, question, query = authority.partition("?")
        tail = question + query
    if "@" in authority:
        authority = f"***@{authority.rpartition('@')[2]}"
    # A query before the first "/" is the URL's query, its raw "/" (`http://cam?pwd=a/b`) no path: scanned whole.
    authority, question, query = authority.partition("?")
    return f"{scheme}://{authority}{_redact_parameters(question + query + slash + tail)}"


# The userinfo runs to the authority's last "@" (a raw "@" in a password); one that reaches the end of the text (a
# message cut short within it) has no "@" left to show. Linear in the text: the scheme is at most 32 characters (a
# longer one is matched by its end), and the colon of a userinfo cut short is found by a lookahead, not by
# backtracking over every colon of the run.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]{0,31}://)(?:[^/\s]*@|(?=[^/@\s]*:)[^/@\s]*$)")

# A run of non-blank characters (a URL in free text ends at a blank): each is looked at once, so linear too.
_TOKEN = re.compile(r"\S+")


def _redact_slashed_userinfo(match: re.Match[str]) -> str:
    """The first URL of a blank-free token whose userinfo holds a raw "/" (``_USERINFO`` stops at it)."""
    token = match[0]
    start = token.find("://")
    if start < 0:
        return token
    rest = token[start + 3 :]
    authority_end = rest.find("/")
    if authority_end < 0 or "@" in rest[:authority_end]:
        return token
    at = _slashed_userinfo_end(rest, authority_end)
    return token if at < 0 else f"{token[: start + 3]}***{rest[at:]}"


def redact_text(text: str) -> str:
    """Any `scheme://user:pass@` in free text as `scheme://***@` (a raw "/" in the password too), and the value of
    every credential-like URL parameter (`?user=…&pwd=…`, `;password=…`) as `***`."""
    text = _TOKEN.sub(_redact_slashed_userinfo, _USERINFO.sub(r"\g<scheme>***@", text))
    return _redact_parameters(text)
