"""The library's SQLite file (`ledger.sqlite`): one owner, one connection, numbered
migrations.

Small, frequent state lives here rather than in LanceDB, where every write is a new table
version: the job ledger, the hash banks, and what later applications keep (review
decisions, the audit log, API tokens). Each of those is a class over a table set that
takes its connection from `LibraryDatabase`; none opens the file itself. WAL lets readers
(status, a web server) read while a writer indexes.

The schema changes only through `MIGRATIONS`, applied in order and recorded in SQLite's
`user_version`, so that a library written by any earlier version opens in this one. The
first three were written before migrations were numbered and are idempotent (a library of
that time has some of their tables already); later ones need not be.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from videolearn.store.banks import BankStore
from videolearn.store.decisions import DecisionStore
from videolearn.store.ledger import Ledger, WrittenVideos
from videolearn.store.moderation import ModerationStore
from videolearn.store.shelf import ShelfStore
from videolearn.store.themes import ThemeStore
from videolearn.store.tokens import TokenStore
from videolearn.store.transaction import transaction
from videolearn.store.verdicts import VerdictStore
from videolearn.types import Closing

DATABASE_FILE = "ledger.sqlite"

_LEDGER = """
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

_BANKS = """
CREATE TABLE IF NOT EXISTS banks (
    name TEXT PRIMARY KEY,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS bank_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    bank TEXT NOT NULL REFERENCES banks(name) ON DELETE CASCADE,
    signal_type TEXT NOT NULL,
    content TEXT NOT NULL,
    value TEXT NOT NULL,
    added_at REAL NOT NULL,
    UNIQUE (bank, signal_type, value)
);
CREATE TABLE IF NOT EXISTS bank_frames (
    entry_id INTEGER NOT NULL REFERENCES bank_entries(id) ON DELETE CASCADE,
    frame INTEGER NOT NULL,
    quality INTEGER NOT NULL,
    pdq_hex TEXT NOT NULL,
    timestamp_s REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS bank_frames_entry ON bank_frames (entry_id);
CREATE TABLE IF NOT EXISTS video_matches (
    video_id TEXT NOT NULL,
    entry_id INTEGER NOT NULL REFERENCES bank_entries(id) ON DELETE CASCADE,
    signal_type TEXT NOT NULL,
    match_json TEXT NOT NULL,
    matched_at REAL NOT NULL,
    PRIMARY KEY (video_id, entry_id, signal_type)
);
-- The bank generation each stored video was last matched at: older ones are matched again.
CREATE TABLE IF NOT EXISTS matched_videos (
    video_id TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,
    matched_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS bank_generation (id INTEGER PRIMARY KEY CHECK (id = 0), n INTEGER);
INSERT OR IGNORE INTO bank_generation VALUES (0, 0);
"""


_TOKENS = """
CREATE TABLE tokens (
    name TEXT PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    last_used_at REAL,
    revoked_at REAL
);
"""


_DECISIONS = """
CREATE TABLE copy_decisions (
    video_a TEXT NOT NULL,
    video_b TEXT NOT NULL,
    copy INTEGER NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    decided_at REAL NOT NULL,
    PRIMARY KEY (video_a, video_b)
);
"""


_THEMES = """
CREATE TABLE themes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    label TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE theme_members (
    theme_id INTEGER NOT NULL REFERENCES themes (id) ON DELETE CASCADE,
    video_id TEXT NOT NULL,
    joined_at REAL NOT NULL,
    PRIMARY KEY (theme_id, video_id)
);
CREATE INDEX theme_members_video ON theme_members (video_id);
"""


_VERDICTS = """
CREATE TABLE copy_verdicts (
    video_a TEXT NOT NULL,
    video_b TEXT NOT NULL,
    rule TEXT NOT NULL,
    strength REAL NOT NULL,
    reason TEXT,
    quotes TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (video_a, video_b, rule)
);
CREATE INDEX copy_verdicts_b ON copy_verdicts (video_b);
"""


_MODERATION = """
CREATE TABLE review_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    video_id TEXT NOT NULL,
    policy TEXT NOT NULL,
    action TEXT NOT NULL,
    evidence_key TEXT NOT NULL,
    verdict TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    decided_at REAL,
    decided_by TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    UNIQUE (video_id, policy, evidence_key)
);
CREATE INDEX review_items_status ON review_items (status);
CREATE TABLE moderation_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    who TEXT NOT NULL,
    what TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    previous TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is only appended to'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is only appended to'); END
"""


_WEBHOOKS = """
CREATE TABLE webhook_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id INTEGER NOT NULL,
    video_id TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    delivered_at REAL,
    given_up_at REAL,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (delivered_at, given_up_at, next_at);
"""


_WRITTEN = """
CREATE TABLE written_videos (video_id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE written_videos_filled (id INTEGER PRIMARY KEY CHECK (id = 0))
"""


_ALLOW = """
ALTER TABLE banks ADD COLUMN allow INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bank_entries ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1
"""


_SEARCHED = """
ALTER TABLE copy_verdicts ADD COLUMN shared_a REAL;
ALTER TABLE copy_verdicts ADD COLUMN shared_b REAL;
CREATE TABLE copy_searched (
    video_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    PRIMARY KEY (video_id, rule)
) WITHOUT ROWID
"""


_STRETCHES = """
ALTER TABLE copy_verdicts ADD COLUMN stretches TEXT NOT NULL DEFAULT '[]'
"""


_SHELF = """
CREATE TABLE shelf (
    video_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    folder TEXT NOT NULL,
    name TEXT NOT NULL,
    duration_s REAL,
    modified REAL,
    month TEXT,
    added_at REAL NOT NULL,
    pictures INTEGER NOT NULL,
    kinds TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX shelf_path ON shelf (path);
CREATE INDEX shelf_folder ON shelf (folder);
CREATE INDEX shelf_added ON shelf (added_at, path);
CREATE INDEX shelf_modified ON shelf (modified, path);
CREATE INDEX shelf_month ON shelf (month);
CREATE INDEX shelf_name ON shelf (name COLLATE NOCASE, path);
CREATE INDEX shelf_duration ON shelf (duration_s, path);
CREATE TABLE shelf_filled (id INTEGER PRIMARY KEY CHECK (id = 0))
"""


_TITLES = """
ALTER TABLE shelf ADD COLUMN title TEXT;
CREATE VIRTUAL TABLE shelf_titles USING fts5(video_id UNINDEXED, words)
"""


def _script(sql: str) -> Callable[[sqlite3.Connection], None]:
    """Run SQL statements one by one, split where sqlite3 says a statement is complete
    (a trigger's BEGIN ... END holds ";" of its own)."""

    def apply(db: sqlite3.Connection) -> None:
        statement = ""
        for line in sql.splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                db.execute(statement)
                statement = ""
        if statement.strip():
            db.execute(statement)

    return apply


def _add_tile_column(db: sqlite3.Connection) -> None:
    # Banks made before the logo-robust tiles signal lack the column.
    columns = {row[1] for row in db.execute("PRAGMA table_info(bank_frames)")}
    if "tile" not in columns:
        db.execute("ALTER TABLE bank_frames ADD COLUMN tile INTEGER NOT NULL DEFAULT 0")


# (number, what it does, how): numbers run from 1 without gaps; append, never edit.
MIGRATIONS: tuple[tuple[int, str, Callable[[sqlite3.Connection], None]], ...] = (
    (1, "the job ledger: files and runs", _script(_LEDGER)),
    (2, "hash banks, their frames, and the matches of stored videos", _script(_BANKS)),
    (3, "bank_frames.tile: the quadrant of a vpdq_tiles frame", _add_tile_column),
    (4, "API tokens, stored as their SHA-256", _script(_TOKENS)),
    (5, "people's decisions that two videos are, or are not, copies", _script(_DECISIONS)),
    (6, "themes and when each member joined", _script(_THEMES)),
    (7, "what the copy rule said of each pair it was asked about", _script(_VERDICTS)),
    (8, "policy verdicts for review, and the audit log", _script(_MODERATION)),
    (9, "verdicts waiting to be posted to policies' webhooks", _script(_WEBHOOKS)),
    (10, "allow-list banks, and bank entries switched off", _script(_ALLOW)),
    (11, "the videos that may have rows in the tables", _script(_WRITTEN)),
    (12, "the sound two videos share, and the videos searched for copies", _script(_SEARCHED)),
    (13, "where in each of two videos the sound they share lies", _script(_STRETCHES)),
    (14, "the shelf: what the library view lists of each video", _script(_SHELF)),
    (15, "titles people give videos, and their words to search", _script(_TITLES)),
)


class LibraryDatabase(Closing):
    """The one owner of a library's SQLite file: opens it, brings its schema up to date,
    and hands out the classes that keep their tables in it (`ledger`, `written`, `banks`, `tokens`,
    `decisions`, `themes`, `verdicts`, `moderation`, `shelf`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Autocommit; `transaction` groups statements. Not bound to the opening thread: a
        # server answers from threads of its own.
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self.migrate()
        self.ledger = Ledger(self._db)
        self.written = WrittenVideos(self._db)
        self.banks = BankStore(self._db)
        self.tokens = TokenStore(self._db)
        self.decisions = DecisionStore(self._db)
        self.themes = ThemeStore(self._db)
        self.verdicts = VerdictStore(self._db)
        self.moderation = ModerationStore(self._db)
        self.shelf = ShelfStore(self._db)

    @property
    def schema_version(self) -> int:
        """The number of the last migration applied."""
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> list[int]:
        """Apply the migrations this file has not had, each in a transaction of its own;
        returns their numbers."""
        applied = []
        for number, _, apply in MIGRATIONS:
            if number <= self.schema_version:
                continue
            with self.transaction():
                apply(self._db)
                self._db.execute(f"PRAGMA user_version = {int(number)}")
            applied.append(number)
        return applied

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: commit when the block ends, roll back when it raises."""
        with transaction(self._db) as db:
            yield db

    def close(self) -> None:
        self._db.close()


def open_database(library_root: Path) -> LibraryDatabase:
    """Open (and migrate) the SQLite file of the library at `library_root`."""
    return LibraryDatabase(library_root / DATABASE_FILE)
