"""People's decisions about pairs of videos: "these are copies" or "these are not",
kept in the library's SQLite file (`store.database` owns it) apart from every derived
row, so that they survive re-indexing, re-clustering and new models. Forgetting a video
forgets the decisions about it.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CopyDecision:
    """A person's word on whether two videos are copies of each other."""

    video_a: str
    video_b: str
    copy: bool
    note: str
    decided_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "video_a": self.video_a,
            "video_b": self.video_b,
            "decision": "copy" if self.copy else "not-copy",
            "note": self.note,
            "decided_at": self.decided_at,
        }


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


class DecisionStore:
    """Copy decisions by pair, on the library database's connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def decide(self, video_a: str, video_b: str, copy: bool, note: str = "") -> CopyDecision:
        """Record (or change) the decision on a pair; the order of the two does not matter.

        Raises:
            ValueError: both are the same video.
        """
        if video_a == video_b:
            raise ValueError("a video is always a copy of itself: name two different videos")
        a, b = _pair(video_a, video_b)
        now = time.time()
        self._db.execute(
            "INSERT INTO copy_decisions (video_a, video_b, copy, note, decided_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (video_a, video_b) DO UPDATE SET "
            "copy = excluded.copy, note = excluded.note, decided_at = excluded.decided_at",
            (a, b, int(copy), note, now),
        )
        return CopyDecision(a, b, copy, note, now)

    def get(self, video_a: str, video_b: str) -> bool | None:
        """True: copies; False: not copies; None: nobody said."""
        row = self._db.execute(
            "SELECT copy FROM copy_decisions WHERE video_a = ? AND video_b = ?",
            _pair(video_a, video_b),
        ).fetchone()
        return None if row is None else bool(row[0])

    def list(self) -> list[CopyDecision]:
        rows = self._db.execute(
            "SELECT video_a, video_b, copy, note, decided_at FROM copy_decisions "
            "ORDER BY decided_at"
        ).fetchall()
        return [CopyDecision(a, b, bool(c), n, t) for a, b, c, n, t in rows]

    def forget_video(self, video_id: str) -> None:
        self._db.execute(
            "DELETE FROM copy_decisions WHERE video_a = ? OR video_b = ?", (video_id, video_id)
        )
