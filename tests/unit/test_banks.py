"""The bank store on its own: tiles frames round trip, and banks made before tiles open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from videolearn.store.banks import BankStore, FrameHash

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
    banks = BankStore(db)
    assert banks.all_frames() == [(1, 90, digest, 0.0, 0)]
    tiles = [FrameHash(0, 80, "cd" * 32, 0.0, tile) for tile in range(4)]
    assert banks.add("OLD", "vpdq_tiles", "new.mp4", frames=tiles)
    assert [row[4] for row in banks.all_frames()] == [0, 0, 1, 2, 3]
    assert not banks.add("OLD", "vpdq_tiles", "again.mp4", frames=tiles)  # same signal
    assert banks.export_lines("OLD") == ["vpdq []"]  # tiles are not exchanged
    banks.close()
