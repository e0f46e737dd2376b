"""A decoded TrackFrame as one bus message, and back. Pure: no I/O.

The message is the frame's columns as they left validation (`DecodedFrame`), not the edge's protobuf: the worker
trusts what the gateway validated and decodes without checking again. Every field of `DecodedFrame` travels, so a
column added there (e.g. appearance) reaches the worker without a change here: integers and None in a JSON header,
arrays as raw little-endian buffers after it.

    b"RF1" | u32 header length | header JSON | buffers
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
from typing import Any

import numpy as np

from server.frames import DecodedFrame

MAGIC = b"RF1"
_LENGTH = struct.Struct("<I")


class FrameCodecError(ValueError):
    """Bytes that are not a frame message of this version."""


def message_id(camera_id: int, epoch: int, sequence: int) -> str:
    """JetStream's de-duplication id of a frame: the same frame published twice (a gateway's retry, a box that
    reconnected to another gateway before its ack) is stored once."""
    return f"{camera_id}:{epoch}:{sequence}"


def site_subject(prefix: str, site_id: int) -> str:
    return f"{prefix}.{site_id}"


def encode_frame(frame: DecodedFrame) -> bytes:
    header: dict[str, Any] = {}
    buffers: list[bytes] = []
    offset = 0
    for spec in dataclasses.fields(frame):
        value = getattr(frame, spec.name)
        if isinstance(value, np.ndarray):
            array = np.ascontiguousarray(value)
            data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
            header[spec.name] = {
                "dtype": array.dtype.str.lstrip("<>|="),
                "shape": list(array.shape),
                "at": offset,
            }
            buffers.append(data)
            offset += len(data)
        elif value is None or isinstance(value, (int, float, str, bool)):
            header[spec.name] = {"value": value}
        else:
            raise TypeError(
                f"DecodedFrame.{spec.name} of type {type(value).__name__} cannot travel on the bus"
            )
    encoded = json.dumps(header, separators=(",", ":")).encode()
    return b"".join([MAGIC, _LENGTH.pack(len(encoded)), encoded, *buffers])


# The columns a DecodedFrame takes, and per dtype string of a header: (little-endian dtype, native dtype). Built
# once: the worker decodes every frame of its sites (its hot path).
_KNOWN = frozenset(spec.name for spec in dataclasses.fields(DecodedFrame))
_DTYPES: dict[str, tuple[np.dtype[Any], np.dtype[Any] | None]] = {}


def _dtypes(name: str) -> tuple[np.dtype[Any], np.dtype[Any] | None]:
    """(the dtype of the column in the message, the native one to convert it to; None: the same)."""
    found = _DTYPES.get(name)
    if found is None:
        little = np.dtype(name).newbyteorder("<")
        native = little.newbyteorder("=")
        found = _DTYPES[name] = (little, None if native == little else native)
    return found


def decode_frame_message(data: bytes) -> DecodedFrame:
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _LENGTH.size:
        raise FrameCodecError("not a frame message (RF1)")
    (length,) = _LENGTH.unpack_from(data, len(MAGIC))
    start = len(MAGIC) + _LENGTH.size
    try:
        header = json.loads(data[start : start + length])
    except ValueError as err:
        raise FrameCodecError(f"unreadable frame header: {err}") from err
    # One writable copy of the columns' bytes (the arrays are views of it; each column its own range).
    body = bytearray(memoryview(data)[start + length :])
    size_of_body = len(body)
    values: dict[str, Any] = {}
    for name, entry in header.items():
        if name not in _KNOWN:
            continue  # a newer gateway's column: this worker does not use it
        if "value" in entry:
            values[name] = entry["value"]
            continue
        little, native = _dtypes(entry["dtype"])
        shape = tuple(int(n) for n in entry["shape"])
        count = math.prod(shape)
        at = int(entry["at"])
        size = count * little.itemsize
        if at < 0 or at + size > size_of_body:
            raise FrameCodecError(f"column {name} runs past the message")
        column = np.frombuffer(body, dtype=little, count=count, offset=at).reshape(shape)
        if native is not None or not column.flags.aligned:
            column = column.astype(native or little)
        values[name] = column
    try:
        return DecodedFrame(**values)
    except TypeError as err:
        raise FrameCodecError(f"frame message lacks a column: {err}") from err
