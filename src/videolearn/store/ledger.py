"""The job ledger: per-file state and the history of runs, in SQLite (WAL mode).

Small, frequent state lives here rather than in LanceDB, where every write is a new table
version. WAL lets readers (status, a web server) read while a writer indexes.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    video_id TEXT,
    size_bytes INTEGER,
    mtime_ns INTEGER,
    status TEXT NOT NULL CHECK (status IN ('pending', 'indexed', 'failed')),
    reason TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS files_video ON files (video_id);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,
    finished_at REAL,
    indexed INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True)
class FileEntry:
    """The ledger's row for one path."""

    path: str
    video_id: str | None
    size_bytes: int | None
    mtime_ns: int | None
    status: str
    reason: str | None


class Ledger:
    """Per-path indexing state. One connection; commits after every change."""

    def __init__(self, db_path: Path) -> None:
        self._db = sqlite3.connect(db_path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def get(self, path: str) -> FileEntry | None:
        row = self._db.execute(
            "SELECT path, video_id, size_bytes, mtime_ns, status, reason FROM files WHERE path=?",
            (path,),
        ).fetchone()
        return FileEntry(*row) if row else None

    def set(
        self,
        path: str,
        status: str,
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
            (path, video_id, size_bytes, mtime_ns, status, reason, time.time()),
        )

    def entries(self, status: str | None = None) -> list[FileEntry]:
        sql = "SELECT path, video_id, size_bytes, mtime_ns, status, reason FROM files"
        rows = (
            self._db.execute(sql + " WHERE status=? ORDER BY path", (status,))
            if status
            else self._db.execute(sql + " ORDER BY path")
        )
        return [FileEntry(*r) for r in rows]

    def paths_of(self, video_id: str) -> list[str]:
        rows = self._db.execute(
            "SELECT path FROM files WHERE video_id=? ORDER BY path", (video_id,)
        )
        return [r[0] for r in rows]

    def remove_video(self, video_id: str) -> None:
        self._db.execute("DELETE FROM files WHERE video_id=?", (video_id,))

    def remove_path(self, path: str) -> None:
        self._db.execute("DELETE FROM files WHERE path=?", (path,))

    def start_run(self) -> int:
        cur = self._db.execute("INSERT INTO runs (started_at) VALUES (?)", (time.time(),))
        return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, indexed: int, unchanged: int, failed: int) -> None:
        self._db.execute(
            "UPDATE runs SET finished_at=?, indexed=?, unchanged=?, failed=? WHERE id=?",
            (time.time(), indexed, unchanged, failed, run_id),
        )
