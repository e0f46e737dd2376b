"""Generate the dashboard's TypeScript types of the WebSocket events from server.realtime.events.

Usage: ``python -m server.realtime.typescript`` (writes frontend/src/api/events.generated.ts) or
``python -m server.realtime.typescript --out FILE`` (the staleness test writes elsewhere and compares).
The output depends only on server/realtime/events.py: names in the order they are declared there."""

from __future__ import annotations

import argparse
import ast
import inspect
import itertools
import sys
import textwrap
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, NotRequired, Required, get_args, get_origin, get_type_hints, is_typeddict

from server.realtime import events

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT = REPO_ROOT / "frontend" / "src" / "api" / "events.generated.ts"
# Aliases of events.py written as named TypeScript types (a union is compared by its members).
ALIASES = (
    "PersonId",
    "Contact",
    "AlertKindName",
    "AlertStateName",
    "AlertChange",
    "GroupEvent",
    "ServerEvent",
    "ClientMessage",
)


class UnsupportedTypeError(TypeError):
    pass


def _ts(tp: Any, aliases: dict[str, Any], *, top: str | None = None) -> str:
    for name, alias in aliases.items():
        if name != top and tp == alias:
            return name
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any or tp is object:
        return "unknown"
    if tp is type(None) or tp is None:
        return "null"
    if tp is bool:
        return "boolean"
    if tp in (int, float):
        return "number"
    if tp is str:
        return "string"
    if is_typeddict(tp):
        return str(tp.__name__)
    if origin in (Required, NotRequired):
        return _ts(args[0], aliases)
    if origin is Literal:
        return " | ".join(_literal(value) for value in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_ts(arg, aliases) for arg in args)
    if origin is list:
        inner = _ts(args[0], aliases)
        return f"({inner})[]" if " " in inner else f"{inner}[]"
    if origin is tuple:
        return "[" + ", ".join(_ts(arg, aliases) for arg in args) + "]"
    if origin is dict:
        return f"Record<{_ts(args[0], aliases)}, {_ts(args[1], aliases)}>"
    raise UnsupportedTypeError(f"no TypeScript for {tp!r}")


def _literal(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    raise UnsupportedTypeError(f"no TypeScript literal for {value!r}")


def comment(text: str | None, indent: str = "") -> Iterator[str]:
    """A JSDoc comment of `text` (none when empty)."""
    if not text:
        return
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) == 1:
        yield f"{indent}/** {lines[0]} */"
        return
    yield f"{indent}/**"
    for line in lines:
        yield f"{indent} * {line}".rstrip()
    yield f"{indent} */"


def _field_docs(cls: type) -> dict[str, str]:
    """The string literal that follows a field in the class body (the attribute docstring convention)."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0]
    assert isinstance(body, ast.ClassDef)
    docs: dict[str, str] = {}
    for stmt, following in itertools.pairwise(body.body):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[stmt.target.id] = following.value.value
    return docs


def _interface(cls: Any, aliases: dict[str, Any]) -> Iterator[str]:
    yield from comment(cls.__doc__)
    yield f"export interface {cls.__name__} {{"
    hints = get_type_hints(cls, include_extras=True)
    docs = _field_docs(cls)
    for name, tp in hints.items():
        yield from comment(docs.get(name), "  ")
        optional = "" if name in cls.__required_keys__ else "?"
        yield f"  {name}{optional}: {_ts(tp, aliases)};"
    yield "}"


def _alias_doc(name: str) -> str | None:
    """The docstring under a module-level alias in events.py."""
    module = ast.parse(inspect.getsource(events)).body
    for stmt, following in itertools.pairwise(module):
        if (
            isinstance(stmt, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            return following.value.value
    return None


def render() -> str:
    aliases = {name: getattr(events, name) for name in ALIASES}
    out = [
        "// Generated by `python -m server.realtime.typescript` from server/realtime/events.py: do not edit.",
        "// The WebSocket events of ws/sites/<id>/ (a test fails when this file is stale).",
        "/* eslint-disable */",
    ]
    for name, value in vars(events).items():
        if name in aliases:
            out.append("")
            out.extend(comment(_alias_doc(name)))
            out.append(f"export type {name} = {_ts(value, aliases, top=name)};")
        elif is_typeddict(value) and value.__module__ == events.__name__:
            out.append("")
            out.extend(_interface(value, aliases))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUTPUT, help=f"output file (default: {OUTPUT})")
    args = parser.parse_args(argv)
    args.out.write_text(render(), encoding="utf-8")
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
