"""The job ledger: per-file state and the history of runs, in the library's SQLite file
(`store.database` owns it and its schema).

The index pipeline is the one writer of a file's state (`pipeline.local`); `doctor --fix`
marks files for the next run.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from videolearn.store.transaction import transaction
from videolearn.types import is_utf8, shown_path


class FileStatus(StrEnum):
    """Where a file stands: waiting for (or in the middle of) a run, done, or refused."""

    PENDING = "pending"
    INDEXED = "indexed"
    FAILED = "failed"


@dataclass(frozen=True)
class FileEntry:
    """The ledger's row for one path."""

    path: str
    video_id: str | None
    size_bytes: int | None
    mtime_ns: int | None
    status: FileStatus
    reason: str | None


def _key(path: str) -> str | bytes:
    """How a path is kept: as text when it is UTF-8, else as its bytes (a BLOB), so that
    every name a file system allows round-trips (SQLite text must be UTF-8)."""
    return path if is_utf8(path) else os.fsencode(path)


def _path(key: str | bytes) -> str:
    return os.fsdecode(key) if isinstance(key, bytes) else key


def _entry(
    row: tuple[str | bytes, str | None, int | None, int | None, str, str | None],
) -> FileEntry:
    path, video_id, size_bytes, mtime_ns, status, reason = row
    return FileEntry(_path(path), video_id, size_bytes, mtime_ns, FileStatus(status), reason)


class Ledger:
    """Per-path indexing state, on the library database's connection (autocommit: each
    change is committed as it is made)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def get(self, path: str) -> FileEntry | None:
        row = self._db.execute(
            "SELECT path, video_id, size_bytes, mtime_ns, status, reason FROM files WHERE path=?",
            (_key(path),),
        ).fetchone()
        return _entry(row) if row else None

    def set(
        self,
        path: str,
        status: FileStatus,
        *,
        video_id: str | None = None,
        size_bytes: int | None = None,
        mtime_ns: int | None = None,
        reason: str | None = None,
    ) -> None:
        self._db.execute(
            "INSERT INTO files (path, video_id, size_bytes, mtime_ns, status, reason, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET"
            " video_id=excluded.video_id, size_bytes=excluded.size_bytes,"
            " mtime_ns=excluded.mtime_ns, status=excluded.status, reason=excluded.reason,"
            " updated_at=excluded.updated_at",
            (
                _key(path),
                video_id,
                size_bytes,
                mtime_ns,
                str(status),
                None if reason is None else shown_path(reason),  # it may quote a name
                time.time(),
            ),
        )

    def entries(self, status: FileStatus | None = None) -> list[FileEntry]:
        sql = "SELECT path, video_id, size_bytes, mtime_ns, status, reason FROM files"
        rows = (
            self._db.execute(sql + " WHERE status=? ORDER BY path", (str(status),))
            if status
            else self._db.execute(sql + " ORDER BY path")
        )
        return [_entry(r) for r in rows]

    def file_times(self) -> dict[str, float]:
        """Each video's latest file modification time (seconds since the epoch)."""
        rows = self._db.execute(
            "SELECT video_id, MAX(mtime_ns) FROM files WHERE video_id IS NOT NULL "
            "AND mtime_ns IS NOT NULL GROUP BY video_id"
        )
        return {str(v): t / 1e9 for v, t in rows}

    def paths_of(self, video_id: str) -> list[str]:
        rows = self._db.execute(
            "SELECT path FROM files WHERE video_id=? ORDER BY path", (video_id,)
        )
        return [_path(r[0]) for r in rows]

    def remove_video(self, video_id: str) -> None:
        self._db.execute("DELETE FROM files WHERE video_id=?", (video_id,))

    def remove_path(self, path: str) -> None:
        self._db.execute("DELETE FROM files WHERE path=?", (_key(path),))

    def start_run(self) -> int:
        cur = self._db.execute("INSERT INTO runs (started_at) VALUES (?)", (time.time(),))
        return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, indexed: int, unchanged: int, failed: int) -> None:
        self._db.execute(
            "UPDATE runs SET finished_at=?, indexed=?, unchanged=?, failed=? WHERE id=?",
            (time.time(), indexed, unchanged, failed, run_id),
        )


class WrittenVideos:
    """The videos that may have rows in the library's tables: marked before the first row
    is written, unmarked after the last is deleted. A video not marked has none, so its
    rows are appended without asking each table (that asking was most of a write's cost:
    22 of 38 ms a video at 1,000 videos). A library written before this record has it
    filled, once, from every table (`complete` says whether that was done)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def complete(self) -> bool:
        return self._db.execute("SELECT 1 FROM written_videos_filled").fetchone() is not None

    def fill(self, video_ids: Iterable[str]) -> None:
        """Mark `video_ids` (all the tables hold) and record that the record is complete."""
        with transaction(self._db):
            self._db.executemany(
                "INSERT OR IGNORE INTO written_videos (video_id) VALUES (?)",
                ((v,) for v in video_ids),
            )
            self._db.execute("INSERT OR IGNORE INTO written_videos_filled (id) VALUES (0)")

    def has(self, video_id: str) -> bool:
        found = self._db.execute("SELECT 1 FROM written_videos WHERE video_id=?", (video_id,))
        return found.fetchone() is not None

    def mark(self, video_id: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO written_videos (video_id) VALUES (?)", (video_id,))

    def unmark(self, video_id: str) -> None:
        self._db.execute("DELETE FROM written_videos WHERE video_id=?", (video_id,))
