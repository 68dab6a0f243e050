"""What the copy rule said of each pair of videos it was asked about, kept in the
library's SQLite file (`store.database` owns it) so that a pair is judged once, not once
per call: a CLI call otherwise judged a hundred pairs again (2-5 s), and an index run
every pair of the library that comes close.

A verdict depends only on the two videos' stored signals and the rule: each row names
the rule it was made under (`rule`: the rule's version and the settings it reads), a
video's rows go when it is written again or forgotten, and people's decisions are not
kept here (they stay in `store.decisions`, over any verdict).

The videos whose candidates were all judged under a rule are kept too (`copy_searched`):
finding every copy in the library then looks for the candidates of the videos that came
since, not of every video again (which aligned every video's sound with every other's
sharing it: 10 minutes an index run at 10,000 videos).
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
    # Seconds of a and of b that are one recording (None: they share none).
    shared_s: tuple[float, float] | None = None
    # Where: (a_start_s, a_end_s, b_start_s, b_end_s, agreement) for each stretch (empty
    # when not known: a verdict kept before they were).
    stretches: tuple[tuple[float, float, float, float, float], ...] = ()


_PUT = (
    "INSERT OR REPLACE INTO copy_verdicts "
    "(video_a, video_b, rule, strength, reason, quotes, shared_a, shared_b, stretches) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_COLUMNS = "video_a, video_b, strength, reason, quotes, shared_a, shared_b, stretches"


def _verdict(row: tuple[object, ...]) -> StoredVerdict:
    a, b, strength, reason, quotes, shared_a, shared_b, stretches = row
    found = tuple((str(x), str(y), float(s), float(e)) for x, y, s, e in json.loads(str(quotes)))
    shared = None if shared_a is None else (float(shared_a), float(shared_b))  # type: ignore[arg-type]
    where = tuple(
        (float(p), float(q), float(r), float(t), float(g))
        for p, q, r, t, g in json.loads(str(stretches))
    )
    return StoredVerdict(
        str(a),
        str(b),
        float(strength),  # type: ignore[arg-type]
        None if reason is None else str(reason),
        found,
        shared,
        where,
    )


class VerdictStore:
    """Copy-rule verdicts by pair and rule, on the library database's connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def get(self, video_a: str, video_b: str, rule: str) -> StoredVerdict | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM copy_verdicts WHERE video_a = ? AND video_b = ? AND rule = ?",
            (video_a, video_b, rule),
        ).fetchone()
        return None if row is None else _verdict(row)

    def found(self, rule: str) -> list[StoredVerdict]:
        """The verdicts under `rule` that found something: copies, quotes or shared sound."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM copy_verdicts WHERE rule = ? "
            "AND (reason IS NOT NULL OR quotes != '[]' OR shared_a IS NOT NULL)",
            (rule,),
        )
        return [_verdict(row) for row in rows]

    def of(self, video_id: str, rule: str) -> list[StoredVerdict]:
        """Every verdict under `rule` on a pair that holds `video_id`."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM copy_verdicts WHERE rule = ? AND video_a = ? "
            f"UNION ALL SELECT {_COLUMNS} FROM copy_verdicts WHERE rule = ? AND video_b = ?",
            (rule, video_id, rule, video_id),
        )
        return [_verdict(row) for row in rows]

    def searched(self, search: str) -> set[str]:
        """The videos whose candidates, found as `search` names, were all judged."""
        rows = self._db.execute("SELECT video_id FROM copy_searched WHERE rule = ?", (search,))
        return {str(video_id) for (video_id,) in rows}

    def put_many(
        self,
        rule: str,
        verdicts: Iterable[StoredVerdict],
        searched: Iterable[str] = (),
        search: str = "",
    ) -> None:
        """Keep these verdicts (replacing any of the same pair and rule) and that the
        `searched` videos' candidates, found as `search` names, are all judged, in one
        transaction."""
        rows = [
            (
                v.video_a,
                v.video_b,
                rule,
                v.strength,
                v.reason,
                json.dumps(v.quotes),
                *(v.shared_s or (None, None)),
                json.dumps(v.stretches),
            )
            for v in verdicts
        ]
        marks = [(video_id, search) for video_id in searched]
        if rows or marks:
            with transaction(self._db):
                self._db.executemany(_PUT, rows)
                self._db.executemany(
                    "INSERT OR IGNORE INTO copy_searched (video_id, rule) VALUES (?, ?)", marks
                )

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM copy_verdicts").fetchone()[0])

    def forget_video(self, video_id: str) -> None:
        self._db.execute(
            "DELETE FROM copy_verdicts WHERE video_a = ? OR video_b = ?", (video_id, video_id)
        )
        self._db.execute("DELETE FROM copy_searched WHERE video_id = ?", (video_id,))
