"""What the copy rule said of each pair of videos it was asked about, kept in the
library's SQLite file (`store.database` owns it) so that a pair is judged once, not once
per call: a CLI call otherwise judged a hundred pairs again (2-5 s), and an index run
every pair of the library that comes close.

A verdict depends only on the two videos' stored signals and the rule: each row names
the rule it was made under (`rule`: the rule's version and the settings it reads), a
video's rows go when it is written again or forgotten, and people's decisions are not
kept here (they stay in `store.decisions`, over any verdict).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from videolearn.store.transaction import transaction


@dataclass(frozen=True)
class StoredVerdict:
    """The rule's word on a pair (a < b): its strength, the reason they are copies (None:
    they are not), and the stretches one quotes of the other ((quoting, quoted, start_s,
    end_s) in the quoting one's time)."""

    video_a: str
    video_b: str
    strength: float
    reason: str | None
    quotes: tuple[tuple[str, str, float, float], ...] = ()


_PUT = (
    "INSERT OR REPLACE INTO copy_verdicts (video_a, video_b, rule, strength, reason, quotes) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


class VerdictStore:
    """Copy-rule verdicts by pair and rule, on the library database's connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def get(self, video_a: str, video_b: str, rule: str) -> StoredVerdict | None:
        row = self._db.execute(
            "SELECT strength, reason, quotes FROM copy_verdicts "
            "WHERE video_a = ? AND video_b = ? AND rule = ?",
            (video_a, video_b, rule),
        ).fetchone()
        if row is None:
            return None
        quotes = tuple((str(x), str(y), float(s), float(e)) for x, y, s, e in json.loads(row[2]))
        return StoredVerdict(video_a, video_b, float(row[0]), row[1], quotes)

    def put_many(self, rule: str, verdicts: Iterable[StoredVerdict]) -> None:
        """Keep these verdicts (replacing any of the same pair and rule), in one
        transaction."""
        rows = [
            (v.video_a, v.video_b, rule, v.strength, v.reason, json.dumps(v.quotes))
            for v in verdicts
        ]
        if rows:
            with transaction(self._db):
                self._db.executemany(_PUT, rows)

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM copy_verdicts").fetchone()[0])

    def forget_video(self, video_id: str) -> None:
        self._db.execute(
            "DELETE FROM copy_verdicts WHERE video_a = ? OR video_b = ?", (video_id, video_id)
        )
