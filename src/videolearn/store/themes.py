"""Themes: named clusters of a library's videos, kept in the library's SQLite file
(`store.database` owns it) so that a theme keeps its id, its name and when each member
joined while clustering runs again over a growing library.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from videolearn.store.transaction import transaction


@dataclass(frozen=True)
class ThemeRecord:
    """A stored theme: its id, label, when it was made, and its members with when each
    joined."""

    theme_id: int
    label: str
    created_at: float
    members: Mapping[str, float]


@dataclass(frozen=True)
class ThemePlan:
    """What a clustering found: an existing theme's id to keep (None: a new theme), its
    label, and its members."""

    theme_id: int | None
    label: str
    members: Sequence[str]


class ThemeStore:
    """Themes and their members, on the library database's connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def current(self) -> list[ThemeRecord]:
        themes = self._db.execute("SELECT id, label, created_at FROM themes ORDER BY id").fetchall()
        members: dict[int, dict[str, float]] = {t[0]: {} for t in themes}
        for theme_id, video_id, joined in self._db.execute(
            "SELECT theme_id, video_id, joined_at FROM theme_members"
        ):
            members[theme_id][video_id] = joined
        return [ThemeRecord(i, label, made, members[i]) for i, label, made in themes]

    def replace(self, plans: Sequence[ThemePlan], now: float | None = None) -> None:
        """Make the stored themes those of `plans`, all or nothing: kept ids keep their
        creation time and their members' joining times; new members join `now`."""
        now = time.time() if now is None else now
        old = {t.theme_id: t for t in self.current()}
        with transaction(self._db):
            keep = {p.theme_id for p in plans if p.theme_id is not None}
            for theme_id in set(old) - keep:
                self._db.execute("DELETE FROM themes WHERE id = ?", (theme_id,))
            for plan in plans:
                if plan.theme_id is None or plan.theme_id not in old:
                    theme_id = int(
                        self._db.execute(
                            "INSERT INTO themes (label, created_at) VALUES (?, ?)",
                            (plan.label, now),
                        ).lastrowid
                        or 0
                    )
                    joined: Mapping[str, float] = {}
                else:
                    theme_id = plan.theme_id
                    self._db.execute(
                        "UPDATE themes SET label = ? WHERE id = ?", (plan.label, theme_id)
                    )
                    joined = old[theme_id].members
                self._db.execute("DELETE FROM theme_members WHERE theme_id = ?", (theme_id,))
                self._db.executemany(
                    "INSERT INTO theme_members (theme_id, video_id, joined_at) VALUES (?, ?, ?)",
                    [(theme_id, v, joined.get(v, now)) for v in plan.members],
                )

    def forget_video(self, video_id: str) -> None:
        self._db.execute("DELETE FROM theme_members WHERE video_id = ?", (video_id,))
