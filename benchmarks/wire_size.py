"""Wire size of a TrackFrame: bytes per tracked person per update on the socket, framing included.

Counts the serialized EdgeMessage{frame} + the 5-byte gRPC message prefix + the 9-byte HTTP/2 DATA frame header
(one DATA frame per message, the usual case for messages this small; HPACK-compressed HEADERS are sent once per
stream, not per message). Tracks are synthetic but realistic for a calibrated 1280x720 camera: 4-digit ids
after an hour of tracking, boxes of people, floor positions on a 20 x 12 m floor, scores, states (some lost), so
every column is populated. Goal: <= 20 bytes per person.

Usage: ``python benchmarks/wire_size.py``.
"""

from __future__ import annotations

import numpy as np

from edge_agent.transport.encoder import encode_track_frame, frame_message_bytes
from edge_agent.types import Tracks

GRPC_PREFIX_BYTES = 5
HTTP2_FRAME_HEADER_BYTES = 9


def synthetic(people: int, rng: np.random.Generator, first_id: int) -> Tracks:
    """A frame of a 1280x720 camera looking at a shop floor of 20 x 12 m, ids as after an hour of tracking."""
    xy = rng.uniform((0, 100), (1220, 560), (people, 2))
    size = rng.uniform((30, 80), (70, 180), (people, 2))
    ids = np.sort(rng.choice(np.arange(first_id, first_id + 4 * people), people, replace=False))
    return Tracks(
        ids=ids.astype(np.int64),
        xyxy_px=np.concatenate((xy, xy + size), axis=1).astype(np.float32),
        scores=rng.uniform(0.3, 0.95, people).astype(np.float32),
        states=rng.choice([2, 2, 2, 2, 3], people).astype(np.int8),
        floor_xy_cm=rng.uniform((0, 0), (2000, 1200), (people, 2)).astype(np.float32),
    )


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'people':>6} {'TrackFrame B':>12} {'on socket B':>11} {'B/person':>9}")
    for people in (10, 30):
        sizes = []
        for i in range(200):
            tracks = synthetic(people, rng, first_id=3000 + i)
            payload = encode_track_frame(2, 180_000 + i, 1_764_000_000_000_000 + i * 40_000, tracks)
            message = frame_message_bytes(payload.SerializeToString())
            sizes.append((payload.ByteSize(), len(message) + GRPC_PREFIX_BYTES + HTTP2_FRAME_HEADER_BYTES))
        frame_bytes, socket_bytes = np.mean(sizes, axis=0)
        print(f"{people:>6} {frame_bytes:>12.1f} {socket_bytes:>11.1f} {socket_bytes / people:>9.2f}")
    print("goal: <= 20 bytes per person per update")


if __name__ == "__main__":
    main()
