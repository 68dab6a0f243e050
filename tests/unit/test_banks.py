"""The bank store on its own, and the library database's migrations: tiles frames round
trip, banks made before tiles open, a ledger made before migrations were numbered opens."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from videolearn.store.banks import FrameHash
from videolearn.store.database import MIGRATIONS, LibraryDatabase
from videolearn.store.ledger import FileStatus

OLD_SCHEMA = """
CREATE TABLE banks (name TEXT PRIMARY KEY, created_at REAL NOT NULL);
CREATE TABLE bank_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, bank TEXT NOT NULL, signal_type TEXT NOT NULL,
    content TEXT NOT NULL, value TEXT NOT NULL, added_at REAL NOT NULL,
    UNIQUE (bank, signal_type, value));
CREATE TABLE bank_frames (
    entry_id INTEGER NOT NULL, frame INTEGER NOT NULL, quality INTEGER NOT NULL,
    pdq_hex TEXT NOT NULL, timestamp_s REAL NOT NULL);
INSERT INTO banks VALUES ('OLD', 0);
INSERT INTO bank_entries VALUES (1, 'OLD', 'vpdq', 'old.mp4', '[]', 0);
INSERT INTO bank_frames VALUES (1, 0, 90, '{hex}', 0.0);
"""


def test_a_bank_made_before_tiles_opens_and_takes_tiles(tmp_path: Path) -> None:
    db = tmp_path / "ledger.sqlite"
    digest = "ab" * 32
    with sqlite3.connect(db) as conn:
        conn.executescript(OLD_SCHEMA.format(hex=digest))
    database = LibraryDatabase(db)
    assert database.schema_version == len(MIGRATIONS)
    banks = database.banks
    assert banks.all_frames() == [(1, 90, digest, 0.0, 0)]
    tiles = [FrameHash(0, 80, "cd" * 32, 0.0, tile) for tile in range(4)]
    assert banks.add("OLD", "vpdq_tiles", "new.mp4", frames=tiles)
    assert [row[4] for row in banks.all_frames()] == [0, 0, 1, 2, 3]
    assert not banks.add("OLD", "vpdq_tiles", "again.mp4", frames=tiles)  # same signal
    assert banks.export_lines("OLD") == ["vpdq []"]  # tiles are not exchanged
    database.close()


def test_migrations_are_numbered_and_run_once(tmp_path: Path) -> None:
    assert [number for number, _, _ in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    path = tmp_path / "ledger.sqlite"
    first = LibraryDatabase(path)
    first.ledger.set("/a.mp4", FileStatus.INDEXED, video_id="v" * 64)
    first.banks.create("KNOWN")
    first.close()
    again = LibraryDatabase(path)
    assert again.migrate() == []  # nothing left to apply
    assert again.ledger.get("/a.mp4").status is FileStatus.INDEXED
    assert [s.name for s in again.banks.summaries()] == ["KNOWN"]
    again.close()


def test_a_failed_migration_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as conn:  # the ledger's migration done, and a table in the way
        conn.execute("PRAGMA user_version = 1")
        conn.execute("CREATE TABLE bank_frames (other TEXT)")
    with pytest.raises(sqlite3.OperationalError, match="entry_id"):
        LibraryDatabase(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert not conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'bank_entries'"
        ).fetchone()
