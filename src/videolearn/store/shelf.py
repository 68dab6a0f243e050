"""The shelf: what the library view lists of each stored video (its path, folder, name,
duration, file date, when it was added, and what was found in it), kept in the library's
SQLite file beside the tables so that a page of a library of 100,000 videos is sorted and
filtered through SQLite's indexes instead of a read of the tables.

The store keeps it as it writes (`LibraryStore.write_video`, `replace_outputs`,
`delete_video`, `set_path`); a library written before the shelf existed is put on it
from its tables once, the first time it is asked for (`complete`, `fill`).

A title a person gives a video is kept here too, and only here (the tables hold what was
found in the file): writing the video again or moving its file keeps it, forgetting the
video drops it. Its words (folded as every other text is, `text.words_in`) are in a
full-text index of their own (`shelf_titles`, SQLite's FTS5) for the search.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from videolearn.store.moderation import HELD_BACK_VIDEOS
from videolearn.store.transaction import transaction
from videolearn.text import words_in

# The kinds of moment a shelf row says were found, in the order they are shown.
KINDS = ("speech", "text", "sound", "nudity")
# How a page may be sorted, and the SQL that sorts it (ties by path, the same way).
SORTS = {
    "added": "added_at",
    "date": "modified",
    "name": "name COLLATE NOCASE",
    "duration": "duration_s",
}
# Videos a `block` verdict holds back (pending or accepted): never listed.
_HELD_BACK = f"video_id NOT IN ({HELD_BACK_VIDEOS})"


def shown_name(title: str | None, path: str) -> str:
    """What a video is called wherever it is shown: the title a person gave it, else its
    file's name."""
    return title or PurePath(path).name


@dataclass(frozen=True)
class ShelfRow:
    """A stored video as the library view lists it."""

    video_id: str
    path: str
    duration_s: float | None
    # The file's modification time as the index saw it (seconds since the epoch).
    modified: float | None
    added_at: float
    pictures: bool
    kinds: tuple[str, ...]
    # What a person called it (None: no one did).
    title: str | None = None

    @property
    def name(self) -> str:
        """Its file's name."""
        return PurePath(self.path).name

    @property
    def shown(self) -> str:
        """What the library view calls it: its title, else its file's name."""
        return shown_name(self.title, self.path)

    @property
    def folder(self) -> str:
        return str(PurePath(self.path).parent)

    @property
    def month(self) -> str | None:
        """The month its file is from (YYYY-MM, this machine's local time)."""
        return (
            None if self.modified is None else time.strftime("%Y-%m", time.localtime(self.modified))
        )


def kinds_of(modalities: Iterable[str]) -> tuple[str, ...]:
    """The kinds of moment found, from the modalities of a video's moments."""
    found = set(modalities)
    return tuple(k for k in KINDS if k in found)


class ShelfStore:
    """The shelf, on the library database's connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def complete(self) -> bool:
        """Whether every stored video is on the shelf (it was filled, or the library was
        made with it)."""
        return self._db.execute("SELECT 1 FROM shelf_filled").fetchone() is not None

    def fill(self, rows: Iterable[ShelfRow]) -> None:
        """Put every stored video on the shelf at once (a library written before it)."""
        with transaction(self._db):
            for row in rows:
                self._put(row)
            self._db.execute("INSERT OR IGNORE INTO shelf_filled (id) VALUES (0)")

    def put(self, row: ShelfRow) -> None:
        """Put a video on the shelf, or replace what it said of it (its `added_at` kept
        when it was there)."""
        self._put(row)

    def _put(self, row: ShelfRow) -> None:
        self._db.execute(
            "INSERT INTO shelf (video_id, path, folder, name, duration_s, modified, month, "
            "added_at, pictures, kinds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (video_id) DO UPDATE SET path = excluded.path, "
            "folder = excluded.folder, name = COALESCE(shelf.title, excluded.name), "
            "duration_s = excluded.duration_s, modified = excluded.modified, "
            "month = excluded.month, pictures = excluded.pictures, kinds = excluded.kinds",
            (
                row.video_id,
                row.path,
                row.folder,
                row.name,
                row.duration_s,
                row.modified,
                row.month,
                row.added_at,
                int(row.pictures),
                " ".join(row.kinds),
            ),
        )

    def file_time(self, video_id: str) -> float | None:
        """The latest modification time of the video's files in the ledger."""
        found = self._db.execute(
            "SELECT MAX(mtime_ns) FROM files WHERE video_id = ?", (video_id,)
        ).fetchone()
        return None if found is None or found[0] is None else found[0] / 1e9

    def set_kinds(self, video_id: str, kinds: Sequence[str]) -> None:
        self._db.execute(
            "UPDATE shelf SET kinds = ? WHERE video_id = ?", (" ".join(kinds), video_id)
        )

    def move(self, video_id: str, path: str) -> None:
        """The video is shown under another path (its title, if it has one, kept)."""
        self._db.execute(
            "UPDATE shelf SET path = ?, folder = ?, name = COALESCE(title, ?) WHERE video_id = ?",
            (path, str(PurePath(path).parent), PurePath(path).name, video_id),
        )

    def drop(self, video_id: str) -> None:
        with transaction(self._db):
            self._db.execute("DELETE FROM shelf WHERE video_id = ?", (video_id,))
            self._db.execute("DELETE FROM shelf_titles WHERE video_id = ?", (video_id,))

    def title(self, video_id: str) -> str | None:
        found = self._db.execute(
            "SELECT title FROM shelf WHERE video_id = ?", (video_id,)
        ).fetchone()
        return None if found is None else found[0]

    def titles(self, video_ids: Sequence[str]) -> dict[str, str]:
        """The titles of those of `video_ids` that have one."""
        marks = ", ".join("?" * len(video_ids))
        rows = self._db.execute(
            f"SELECT video_id, title FROM shelf WHERE title IS NOT NULL AND video_id IN ({marks})",
            list(video_ids),
        )
        return {str(v): str(t) for v, t in rows}

    def set_title(self, video_id: str, title: str | None) -> bool:
        """Give the video a title (None: take it away, the file's name shown again); the
        library view sorts it by it. Returns whether the video is on the shelf."""
        found = self._db.execute(
            "SELECT path FROM shelf WHERE video_id = ?", (video_id,)
        ).fetchone()
        if found is None:
            return False
        with transaction(self._db):
            self._db.execute(
                "UPDATE shelf SET title = ?, name = ? WHERE video_id = ?",
                (title, title or PurePath(found[0]).name, video_id),
            )
            self._db.execute("DELETE FROM shelf_titles WHERE video_id = ?", (video_id,))
            if title:
                self._db.execute(
                    "INSERT INTO shelf_titles (video_id, words) VALUES (?, ?)",
                    (video_id, " ".join(sorted(words_in(title)))),
                )
        return True

    def titled(
        self, words: Iterable[str], limit: int = 50, among: Collection[str] = ()
    ) -> list[tuple[str, str, float | None]]:
        """Listed videos whose titles hold a word starting with one of `words` (folded
        words or their stems: "seat" finds "seats"), most such words first, only of
        `among` when given (a search's filters): (video id, title, duration)."""
        terms = [w for w in dict.fromkeys(words) if w]
        if not terms:
            return []
        # Each word a quoted prefix term: nothing in it is read as FTS5's syntax.
        match = " OR ".join('"{}"*'.format(w.replace('"', '""')) for w in terms)
        # The filter in the query, before its LIMIT: kept after it, a filtered search
        # among more titled matches than the limit lost those it asked for.
        within = " AND s.video_id IN (SELECT value FROM json_each(?))" if among else ""
        rows = self._db.execute(
            "SELECT s.video_id, s.title, s.duration_s FROM shelf_titles t "
            "JOIN shelf s ON s.video_id = t.video_id "
            f"WHERE shelf_titles MATCH ? AND s.{_HELD_BACK}{within} ORDER BY rank LIMIT ?",
            (match, *([json.dumps(sorted(among))] if among else []), limit),
        )
        return [(str(v), str(t), d) for v, t, d in rows]

    def page(  # noqa: PLR0917  a page and what it holds
        self,
        sort: str = "added",
        descending: bool = True,
        folder: str = "",
        kind: str = "",
        offset: int = 0,
        limit: int = 60,
        month: str = "",
    ) -> tuple[list[ShelfRow], int]:
        """A page of the shelf and how many videos all its pages hold: sorted by `sort`
        (one of `SORTS`), those under `folder` (at any depth), with moments of `kind`, and
        whose files are from `month` (YYYY-MM) only when given, none a `block` verdict
        holds back."""
        where = [_HELD_BACK]
        args: list[str | int] = []
        if month:
            where.append("month = ?")
            args.append(month)
        if folder:
            top = folder.rstrip("/") + "/"
            # Under the folder: paths from "top" up to, not including, top with its last
            # character the next one ("/" + 1 is "0"), through the path index.
            where.append("path >= ? AND path < ?")
            args += [top, top[:-1] + "0"]
        if kind:
            where.append("(' ' || kinds || ' ') LIKE ?")
            args.append(f"% {kind} %")
        condition = " AND ".join(where)
        total = self._db.execute(f"SELECT COUNT(*) FROM shelf WHERE {condition}", args).fetchone()
        # Ties by path in the same direction: the sort's index gives the page as it is.
        way = "DESC" if descending else "ASC"
        order = f"{SORTS[sort]} {way}, path {way}"
        rows = self._db.execute(
            "SELECT video_id, path, duration_s, modified, added_at, pictures, kinds, title "
            "FROM shelf "
            f"WHERE {condition} ORDER BY {order} LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
        return [_row(r) for r in rows], int(total[0])

    def by_path(self, offset: int = 0, limit: int = 50) -> tuple[list[str], int]:
        """A page of the listed videos' ids by path (through the path index), and how
        many are listed."""
        total = self._db.execute(f"SELECT COUNT(*) FROM shelf WHERE {_HELD_BACK}").fetchone()
        rows = self._db.execute(
            f"SELECT video_id FROM shelf WHERE {_HELD_BACK} ORDER BY path LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [str(r[0]) for r in rows], int(total[0])

    def months(self) -> list[tuple[str, int]]:
        """The months (YYYY-MM, local time) the listed videos' files are from, newest
        first, with how many videos each."""
        rows = self._db.execute(
            f"SELECT month, COUNT(*) FROM shelf WHERE month IS NOT NULL AND {_HELD_BACK} "
            "GROUP BY month ORDER BY month DESC"
        )
        return [(str(m), int(n)) for m, n in rows]

    def folders(self) -> list[tuple[str, int]]:
        """The folders that hold listed videos directly, with how many each holds."""
        rows = self._db.execute(
            f"SELECT folder, COUNT(*) FROM shelf WHERE {_HELD_BACK} GROUP BY folder ORDER BY folder"
        )
        return [(str(f), int(n)) for f, n in rows]


def _row(r: tuple[Any, ...]) -> ShelfRow:
    video_id, path, duration_s, modified, added_at, pictures, kinds, title = r
    return ShelfRow(
        video_id,
        path,
        duration_s,
        modified,
        added_at,
        bool(pictures),
        tuple(kinds.split()),
        title,
    )
