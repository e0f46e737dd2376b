"""On-disk spool of unacked TrackFrames: SQLite in WAL mode, bounded by frames and bytes, oldest-first eviction.

It also owns the per-camera sequence counters, persisted in the same transaction as each frame, so sequence
numbers continue across restarts of the agent, and the spool's sequence epoch: chosen when the spool file is
created (its creation time in microseconds), so a new box or a wiped spool, whose sequences restart at 1, is
not taken for a replay of the old spool by the server. A spool created by an agent before epochs keeps epoch
0. Thread-safe (one connection behind a lock): the pipeline thread appends, the uplink reads, acks and
removes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_agent.errors import SpoolError

logger = logging.getLogger(__name__)

MAX_EPOCH = 2**63 - 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frames (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    camera_id INTEGER NOT NULL,
    sequence INTEGER NOT NULL,
    payload BLOB NOT NULL,
    UNIQUE (camera_id, sequence)
);
CREATE TABLE IF NOT EXISTS sequences (
    camera_id INTEGER PRIMARY KEY,
    last_sequence INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class SpooledFrame:
    row_id: int
    camera_id: int
    sequence: int
    payload: bytes


class Spool:
    """Every frame produced and not yet acked. ``append`` assigns the camera's next sequence number."""

    def __init__(self, path: Path, max_frames: int = 500_000, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.path = path
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            existed = self._db.execute(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'frames'"
            ).fetchone()[0]
            self._db.executescript(_SCHEMA)
            self.epoch = self._load_epoch(fresh=not existed)
            row = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM frames"
            ).fetchone()
            self._sequences: dict[int, int] = dict(
                self._db.execute("SELECT camera_id, last_sequence FROM sequences").fetchall()
            )
        except sqlite3.Error as err:
            raise SpoolError(f"cannot open spool {path}: {err}") from err
        self.depth_frames = int(row[0])
        self.depth_bytes = int(row[1])
        self.evicted_total = 0
        if self.depth_frames:
            logger.info("spool %s: %d unacked frames from a previous run", path, self.depth_frames)

    def _load_epoch(self, *, fresh: bool) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = 'sequence_epoch'").fetchone()
        if row is not None:
            return int(row[0])
        # A new spool starts a new epoch; one from an agent before epochs continues the legacy epoch 0.
        epoch = min(max(time.time_ns() // 1000, 1), MAX_EPOCH) if fresh else 0
        self._db.execute("INSERT INTO counters (name, value) VALUES ('sequence_epoch', ?)", (epoch,))
        return epoch

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Called (from the appending thread) after every append."""
        self._listeners.append(callback)

    def last_sequence(self, camera_id: int) -> int:
        with self._lock:
            return self._sequences.get(camera_id, 0)

    def append(self, camera_id: int, build_payload: Callable[[int], bytes]) -> int:
        """Store a new frame of ``camera_id``; ``build_payload(sequence)`` serializes it. Returns the
        sequence."""
        with self._lock:
            sequence = self._sequences.get(camera_id, 0) + 1
            payload = build_payload(sequence)
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "INSERT INTO frames (camera_id, sequence, payload) VALUES (?, ?, ?)",
                    (camera_id, sequence, payload),
                )
                self._db.execute(
                    "INSERT INTO sequences (camera_id, last_sequence) VALUES (?, ?) "
                    "ON CONFLICT (camera_id) DO UPDATE SET last_sequence = excluded.last_sequence",
                    (camera_id, sequence),
                )
                self.depth_frames += 1
                self.depth_bytes += len(payload)
                self._evict_locked()
                self._db.execute("COMMIT")
            except sqlite3.Error as err:
                self._db.execute("ROLLBACK")
                self._recount_locked()
                raise SpoolError(f"cannot write to spool {self.path}: {err}") from err
            self._sequences[camera_id] = sequence
        for listener in self._listeners:
            listener()
        return sequence

    def _evict_locked(self) -> None:
        excess_frames = self.depth_frames - self.max_frames
        if excess_frames <= 0 and self.depth_bytes <= self.max_bytes:
            return
        evicted = 0
        freed = 0
        cursor = self._db.execute("SELECT id, LENGTH(payload) FROM frames ORDER BY id")
        last_id = None
        for row_id, size in cursor:
            if self.depth_frames - evicted <= self.max_frames and self.depth_bytes - freed <= self.max_bytes:
                break
            evicted += 1
            freed += int(size)
            last_id = int(row_id)
        cursor.close()
        if last_id is None:
            return
        self._db.execute("DELETE FROM frames WHERE id <= ?", (last_id,))
        self.depth_frames -= evicted
        self.depth_bytes -= freed
        self.evicted_total += evicted
        logger.warning(
            "spool full (%d frames / %d bytes bound): evicted the %d oldest unacked frames (%d since start)",
            self.max_frames,
            self.max_bytes,
            evicted,
            self.evicted_total,
        )

    def _recount_locked(self) -> None:
        row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM frames").fetchone()
        self.depth_frames, self.depth_bytes = int(row[0]), int(row[1])

    def pending(self, after_row_id: int, limit: int) -> list[SpooledFrame]:
        """Frames in the order they were produced, starting after ``after_row_id``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, camera_id, sequence, payload FROM frames WHERE id > ? ORDER BY id LIMIT ?",
                (after_row_id, limit),
            ).fetchall()
        return [SpooledFrame(int(r[0]), int(r[1]), int(r[2]), bytes(r[3])) for r in rows]

    def count_up_to(self, row_id: int) -> int:
        """Frames still spooled whose row id is at most ``row_id``."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM frames WHERE id <= ?", (row_id,)).fetchone()[0])

    def ack(self, camera_id: int, highest_sequence: int) -> int:
        """Drop every frame of the camera up to and including ``highest_sequence``; returns how many."""
        return self._delete("camera_id = ? AND sequence <= ?", (camera_id, highest_sequence))

    def remove(self, camera_id: int, sequence: int) -> int:
        return self._delete("camera_id = ? AND sequence = ?", (camera_id, sequence))

    def _delete(self, where: str, args: tuple[int, int]) -> int:
        with self._lock:
            try:
                row = self._db.execute(
                    f"SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM frames WHERE {where}",  # noqa: S608
                    args,
                ).fetchone()
                if not row[0]:
                    return 0
                self._db.execute(f"DELETE FROM frames WHERE {where}", args)  # noqa: S608
            except sqlite3.Error as err:
                raise SpoolError(f"cannot update spool {self.path}: {err}") from err
            self.depth_frames -= int(row[0])
            self.depth_bytes -= int(row[1])
            return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
