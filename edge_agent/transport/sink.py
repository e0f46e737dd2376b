"""The pipeline's output: encode each analysed frame's tracks and append them to the spool."""

from __future__ import annotations

from edge_agent.transport.encoder import encode_track_frame
from edge_agent.transport.spool import Spool
from edge_agent.types import Tracks


class SpoolSink:
    """``FrameSink`` that writes TrackFrames into the spool (sequence numbers come from the spool)."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    def emit(self, camera_id: int, capture_time_us: int, tracks: Tracks) -> int:
        def build(sequence: int) -> bytes:
            frame = encode_track_frame(camera_id, sequence, capture_time_us, tracks, self.spool.epoch)
            return frame.SerializeToString()

        return self.spool.append(camera_id, build)

    def last_sequence(self, camera_id: int) -> int:
        return self.spool.last_sequence(camera_id)
