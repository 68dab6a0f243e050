"""Hash banks: named lists of known content's hashes (MD5, PDQ, vPDQ), kept in the library's
SQLite file beside the job ledger.

Banks change rarely and are small next to the library, so they live in SQLite beside the
job ledger; matching builds its in-memory index from here. Files in and out use the
formats hash exchanges use: python-threatexchange's `<signal_type> <signal>` lines, and
the vPDQ text format (`frame,quality,pdq_hex,timestamp_s` per line, one video a file).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from videolearn.errors import BankError
from videolearn.store.transaction import transaction

BANK_NAME = re.compile(r"^[A-Z0-9_]+$")
SIGNAL_TYPES = ("md5", "pdq", "vpdq", "vpdq_cropped", "vpdq_tiles")
# What hash exchanges know; the border- and logo-robust signals are ours.
EXCHANGED_TYPES = ("md5", "pdq", "vpdq")
# python-threatexchange calls the MD5 of a video file "video_md5".
_TX_NAMES = {"md5": "video_md5", "pdq": "pdq", "vpdq": "vpdq"}
_FROM_TX = {"video_md5": "md5", "md5": "md5", "pdq": "pdq", "vpdq": "vpdq"}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_VPDQ_LINE = re.compile(r"^\d+,\d{1,3},[0-9a-fA-F]{64},\d+(\.\d+)?$")


@dataclass(frozen=True)
class FrameHash:
    """One frame's PDQ hash as exchanged: frame number, quality, hex, time (and for the
    tiles signal, which quadrant: 0-3 = top left, top right, bottom left, bottom right)."""

    frame: int
    quality: int
    pdq_hex: str
    timestamp_s: float
    tile: int = 0

    def vpdq_line(self) -> str:
        """The reference vPDQ text format: `frame,quality,pdq_hex,timestamp_s`."""
        return f"{self.frame},{self.quality},{self.pdq_hex},{self.timestamp_s:.3f}"


@dataclass(frozen=True)
class BankEntry:
    """One banked signal: an MD5, a PDQ hash, or a whole video's vPDQ frames."""

    id: int
    bank: str
    signal_type: str
    content: str
    value: str
    # Switched off: kept, exported, never matched (a false positive of an exchanged list).
    enabled: bool = True

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "bank": self.bank,
            "signal_type": self.signal_type,
            "content": self.content,
            "value": self.value if len(self.value) <= 80 else self.value[:77] + "...",
            "enabled": self.enabled,
        }


@dataclass(frozen=True)
class BankSummary:
    name: str
    entries: dict[str, int]
    # An allow list: its matches clear a video of other banks' matches there.
    allow: bool = False
    switched_off: int = 0

    def to_json(self) -> dict[str, object]:
        """The `bank list --json` line."""
        return {
            "name": self.name,
            "entries": self.entries,
            "allow": self.allow,
            "switched_off": self.switched_off,
        }


def check_bank_name(name: str) -> str:
    if not BANK_NAME.match(name):
        raise BankError(f"bank name {name!r} must be capital letters, digits and _ only")
    return name


def parse_vpdq_text(lines: Iterable[str], source: str) -> list[FrameHash]:
    """Frames from the vPDQ text format. Raises BankError naming the bad line."""
    frames = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if not _VPDQ_LINE.match(line):
            raise BankError(
                f"{source} line {number}: not `frame,quality,pdq_hex,timestamp_s`: {line[:80]!r}"
            )
        frame, quality, digest, timestamp = line.split(",")
        if int(quality) > 100:
            raise BankError(f"{source} line {number}: quality {quality} is over 100")
        frames.append(FrameHash(int(frame), int(quality), digest.lower(), float(timestamp)))
    return frames


def vpdq_to_tx(frames: Sequence[FrameHash]) -> str:
    """python-threatexchange's vPDQ signal string: a JSON list of `hex,quality,time`
    (tiles, our own, add `,tile`)."""
    tiled = any(f.tile for f in frames)
    return json.dumps(
        [
            f"{f.pdq_hex},{f.quality},{f.timestamp_s:.3f}" + (f",{f.tile}" if tiled else "")
            for f in frames
        ]
    )


def vpdq_from_tx(signal: str, source: str) -> list[FrameHash]:
    try:
        items = json.loads(signal)
        frames = []
        for number, item in enumerate(items):
            digest, quality, timestamp = str(item).split(",")
            if not _HEX64.match(digest.lower()) or not 0 <= int(quality) <= 100:
                raise ValueError(item)
            frames.append(FrameHash(number, int(quality), digest.lower(), float(timestamp)))
    except (ValueError, TypeError) as err:
        raise BankError(
            f"{source}: not a vPDQ signal (JSON list of hex,quality,time): {err}"
        ) from None
    return frames


def check_value(signal_type: str, value: str, source: str) -> str:
    """A normalised md5/pdq value; raises BankError saying what is wrong."""
    value = value.strip().lower()
    if signal_type == "md5" and not _HEX32.match(value):
        raise BankError(f"{source}: an md5 is 32 hex digits, got {len(value)} characters")
    if signal_type == "pdq" and not _HEX64.match(value):
        raise BankError(f"{source}: a PDQ hash is 64 hex digits, got {len(value)} characters")
    return value


class BankStore:
    """Banks in the library's SQLite file, on the library database's connection
    (`store.database` owns the file and its schema)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def generation(self) -> int:
        """Bumped whenever entries are added, so an index knows when to rebuild."""
        return int(self._db.execute("SELECT n FROM bank_generation").fetchone()[0])

    def _bump(self) -> None:
        self._db.execute("UPDATE bank_generation SET n = n + 1")

    def create(self, name: str, allow: bool = False) -> None:
        check_bank_name(name)
        try:
            self._db.execute(
                "INSERT INTO banks (name, created_at, allow) VALUES (?, ?, ?)",
                (name, time.time(), int(allow)),
            )
        except sqlite3.IntegrityError:
            raise BankError(f"bank {name} already exists") from None

    def require(self, name: str) -> str:
        check_bank_name(name)
        if not self._db.execute("SELECT 1 FROM banks WHERE name=?", (name,)).fetchone():
            raise BankError(f"no bank named {name}; create it with `videolearn bank create {name}`")
        return name

    def summaries(self) -> list[BankSummary]:
        out = []
        rows = self._db.execute("SELECT name, allow FROM banks ORDER BY name").fetchall()
        for name, allow in rows:
            counts = dict(
                self._db.execute(
                    "SELECT signal_type, count(*) FROM bank_entries WHERE bank=?"
                    " GROUP BY signal_type",
                    (name,),
                ).fetchall()
            )
            off = self._db.execute(
                "SELECT count(*) FROM bank_entries WHERE bank=? AND NOT enabled", (name,)
            ).fetchone()[0]
            entries = {t: int(counts.get(t, 0)) for t in SIGNAL_TYPES}
            out.append(BankSummary(name, entries, bool(allow), int(off)))
        return out

    def set_allow(self, name: str, allow: bool) -> None:
        """Make a bank an allow list, or a bank of content to find again."""
        self.require(name)
        self._db.execute("UPDATE banks SET allow=? WHERE name=?", (int(allow), name))
        self._bump()

    def allow_lists(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT name FROM banks WHERE allow")}

    def set_enabled(self, entry_id: int, enabled: bool) -> BankEntry:
        """Switch an entry off (kept, never matched) or on again.

        Raises:
            BankError: no entry has that id.
        """
        cur = self._db.execute(
            "UPDATE bank_entries SET enabled=? WHERE id=?", (int(enabled), entry_id)
        )
        if not cur.rowcount:
            raise BankError(f"no bank entry {entry_id} (`videolearn bank entries NAME` lists them)")
        self._bump()
        [entry] = [e for e in self.entries(enabled_only=False) if e.id == entry_id]
        return entry

    def add(
        self,
        bank: str,
        signal_type: str,
        content: str,
        value: str = "",
        frames: Sequence[FrameHash] = (),
    ) -> bool:
        """Add one entry; False when the bank already holds that exact signal."""
        return self.add_many(bank, [(signal_type, content, value, frames)]) == 1

    def add_many(
        self, bank: str, entries: Sequence[tuple[str, str, str, Sequence[FrameHash]]]
    ) -> int:
        """Add entries in one transaction (all or none); returns how many were new."""
        self.require(bank)
        added = 0
        now = time.time()
        with transaction(self._db):
            for signal_type, content, given, frames in entries:
                value = vpdq_to_tx(frames) if signal_type.startswith("vpdq") else given
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO bank_entries"
                    " (bank, signal_type, content, value, added_at) VALUES (?, ?, ?, ?, ?)",
                    (bank, signal_type, content, value, now),
                )
                if cur.rowcount:
                    added += 1
                    self._db.executemany(
                        "INSERT INTO bank_frames"
                        " (entry_id, frame, quality, pdq_hex, timestamp_s, tile)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        [
                            (cur.lastrowid, f.frame, f.quality, f.pdq_hex, f.timestamp_s, f.tile)
                            for f in frames
                        ],
                    )
            if added:
                self._bump()
        return added

    def entries(self, bank: str | None = None, enabled_only: bool = True) -> list[BankEntry]:
        """A bank's entries (every bank's when None), switched-off ones only when not
        `enabled_only`."""
        sql = "SELECT id, bank, signal_type, content, value, enabled FROM bank_entries WHERE 1"
        args: list[str] = []
        if bank:
            sql, args = sql + " AND bank=?", [bank]
        if enabled_only:
            sql += " AND enabled"
        rows = self._db.execute(sql + " ORDER BY id", args)
        return [BankEntry(i, b, t, c, v, bool(e)) for i, b, t, c, v, e in rows]

    def all_frames(self) -> list[tuple[int, int, str, float, int]]:
        """(entry id, quality, pdq_hex, timestamp_s, tile) of every banked vPDQ frame of
        an entry switched on."""
        return list(
            self._db.execute(
                "SELECT entry_id, quality, pdq_hex, timestamp_s, tile FROM bank_frames"
                " JOIN bank_entries ON bank_entries.id = entry_id WHERE enabled"
                " ORDER BY entry_id, frame, tile"
            )
        )

    def has_entries(self) -> bool:
        return self._db.execute("SELECT 1 FROM bank_entries LIMIT 1").fetchone() is not None

    def record_matches(
        self, video_id: str, matches: Sequence[tuple[int, str, str]], generation: int
    ) -> None:
        """Replace what is recorded for a video: (entry id, signal type, match JSON) rows,
        found against the banks as they were at `generation`."""
        now = time.time()
        with transaction(self._db):
            self._db.execute("DELETE FROM video_matches WHERE video_id=?", (video_id,))
            self._db.executemany(
                "INSERT OR REPLACE INTO video_matches VALUES (?, ?, ?, ?, ?)",
                [(video_id, entry_id, kind, doc, now) for entry_id, kind, doc in matches],
            )
            self._db.execute(
                "INSERT OR REPLACE INTO matched_videos VALUES (?, ?, ?)",
                (video_id, generation, now),
            )

    def matched_generations(self) -> dict[str, int]:
        """The bank generation each video was last matched at."""
        rows = self._db.execute("SELECT video_id, generation FROM matched_videos")
        return {video_id: int(generation) for video_id, generation in rows}

    def matches_of(self, video_id: str) -> list[dict[str, object]]:
        rows = self._db.execute(
            "SELECT match_json FROM video_matches WHERE video_id=? ORDER BY entry_id, signal_type",
            (video_id,),
        )
        return [json.loads(r[0]) for r in rows]

    def forget_video(self, video_id: str) -> None:
        with transaction(self._db):
            self._db.execute("DELETE FROM video_matches WHERE video_id=?", (video_id,))
            self._db.execute("DELETE FROM matched_videos WHERE video_id=?", (video_id,))

    def import_file(self, bank: str, path: Path) -> int:
        """Import a python-threatexchange signal file, or one video's vPDQ text file."""
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise BankError(f"{path}: cannot be read: {err}") from None
        first = next((line.strip() for line in lines if line.strip()), "")
        if _VPDQ_LINE.match(first):
            frames = parse_vpdq_text(lines, str(path))
            return self.add_many(bank, [("vpdq", path.stem, "", frames)])
        entries: list[tuple[str, str, str, Sequence[FrameHash]]] = []
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            where = f"{path} line {number}"
            kind, _, signal = line.partition(" ")
            signal_type = _FROM_TX.get(kind.lower())
            if signal_type is None or not signal.strip():
                raise BankError(
                    f"{where}: expected `<signal_type> <signal>` with a type among "
                    f"{', '.join(sorted(_FROM_TX))}, got {line[:80]!r}"
                )
            content = f"{path.name}:{number}"
            if signal_type == "vpdq":
                entries.append(("vpdq", content, "", vpdq_from_tx(signal.strip(), where)))
            else:
                entries.append((signal_type, content, check_value(signal_type, signal, where), ()))
        return self.add_many(bank, entries)

    def export_lines(self, bank: str) -> list[str]:
        """The bank in python-threatexchange's `<signal_type> <signal>` format.

        The border- and logo-robust `vpdq_cropped` and `vpdq_tiles` signals are
        videolearn's own and are not exchanged.
        """
        self.require(bank)
        return [
            f"{_TX_NAMES[e.signal_type]} {e.value}"
            for e in self.entries(bank, enabled_only=False)
            if e.signal_type in _TX_NAMES
        ]
