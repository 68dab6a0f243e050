"""Matching files against hash banks: MD5 exactly, PDQ and vPDQ by Hamming distance.

Every banked PDQ hash (PDQ entries and each distinct vPDQ frame) goes into one Hamming
index (`store.hamming`), searched by range: exact within the threshold, as HMA's FAISS index
is, but built for lookups at 10 million hashes. The index is
rebuilt from the banks when they change and swapped in whole, so a lookup never sees half
an index. vPDQ matching follows python-threatexchange: frames below the quality threshold
are dropped, identical hashes counted once, and a banked video matches when enough of the
query's frames have a near frame in it; the matched stretches of both videos are reported.

`MatchingHook` follows the index pipeline: every stored video is matched against the banks
from the hashes its extractors just computed, and videos stored before the banks last
changed are matched again from their stored hashes at the end of each run.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videolearn.apps.hashing import to_frame_hashes
from videolearn.config import MatchSettings, Settings
from videolearn.extractors.base import Signal, ValueSignal
from videolearn.extractors.hashes import (
    PdqExtractor,
    VpdqCroppedExtractor,
    VpdqExtractor,
    VpdqTilesExtractor,
)
from videolearn.extractors.runner import extract_file
from videolearn.library import Library
from videolearn.pipeline import StoredVideo
from videolearn.store import Store
from videolearn.store.banks import BankEntry, BankStore, FrameHash
from videolearn.store.hamming import HammingIndex
from videolearn.store.tables import SignalRow


@dataclass(frozen=True)
class Match:
    """A query file (or a stretch of it) that matches banked content."""

    bank: str
    signal_type: str
    path: str
    matched_content: str
    query_start_s: float
    query_end_s: float
    match_start_s: float
    match_end_s: float
    distance: int | None = None
    query_match_percent: float | None = None
    target_match_percent: float | None = None
    # The bank entry matched (the store's id; not part of the exchanged JSON).
    entry_id: int = -1

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "bank": self.bank,
            "signal_type": self.signal_type,
            "path": self.path,
            "matched_content": self.matched_content,
        }
        if self.distance is not None:
            out["distance"] = self.distance
        if self.query_match_percent is not None:
            out["query_match_percent"] = round(self.query_match_percent, 2)
            out["target_match_percent"] = round(self.target_match_percent or 0.0, 2)
        out |= {
            "query_start_s": self.query_start_s,
            "query_end_s": self.query_end_s,
            "match_start_s": self.match_start_s,
            "match_end_s": self.match_end_s,
        }
        return out


def to_codes(hexes: Sequence[str]) -> np.ndarray:
    """PDQ hex strings as (N, 32) uint8 rows."""
    if not hexes:
        return np.zeros((0, 32), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(hexes)), dtype=np.uint8).reshape(-1, 32)


class HashIndex:
    """Every banked PDQ hash in one Hamming index, with what each row stands for."""

    def __init__(
        self,
        codes: np.ndarray,
        entry_ids: np.ndarray,
        first_s: np.ndarray,
        tiles: np.ndarray | None = None,
    ) -> None:
        self.entry_ids = entry_ids
        # When each row's hash first occurs in its banked video (0 for a PDQ entry).
        self.first_s = first_s
        # The quadrant of each row of a tiles entry (0 for everything else).
        self.tiles = tiles if tiles is not None else np.zeros(len(entry_ids), np.int8)
        # How many rows each bank entry has (indexed by entry id).
        self.rows_per_entry = np.bincount(entry_ids.astype(np.int64), minlength=1)
        self._index = HammingIndex(codes)

    def __len__(self) -> int:
        return len(self._index)

    @property
    def size_bytes(self) -> int:
        """Memory held by the hashes and their lookup tables."""
        return self._index.size_bytes

    @classmethod
    def from_banks(cls, banks: BankStore, min_quality: int) -> HashIndex:
        hexes: list[str] = []
        entry_ids: list[int] = []
        first_s: list[float] = []
        tiles: list[int] = []
        for entry in banks.entries():
            if entry.signal_type == "pdq":
                hexes.append(entry.value)
                entry_ids.append(entry.id)
                first_s.append(0.0)
                tiles.append(0)
        # One row per distinct frame hash (per quadrant, for tiles) of each banked video,
        # at the first time it occurs.
        rows: dict[tuple[int, str, int], float] = {}
        for entry_id, quality, digest, t, tile in banks.all_frames():
            if quality >= min_quality:
                key = (entry_id, digest, tile)
                rows[key] = min(rows.get(key, t), t)
        for (entry_id, digest, tile), t in rows.items():
            hexes.append(digest)
            entry_ids.append(entry_id)
            first_s.append(t)
            tiles.append(tile)
        return cls(
            to_codes(hexes),
            np.array(entry_ids, np.int64),
            np.array(first_s),
            np.array(tiles, np.int8),
        )

    def search(self, hexes: Sequence[str], max_distance: int) -> list[list[tuple[int, int]]]:
        """For each query hash, the (row, distance) pairs within `max_distance` bits."""
        limits, rows, distances = self._index.search(to_codes(hexes), max_distance)
        return [
            list(
                zip(
                    rows[limits[i] : limits[i + 1]].tolist(),
                    distances[limits[i] : limits[i + 1]].tolist(),
                    strict=True,
                )
            )
            for i in range(len(hexes))
        ]


class Matcher:
    """Matches hashes against the banks, rebuilding its index when the banks change."""

    def __init__(self, banks: BankStore, settings: MatchSettings) -> None:
        self.banks = banks
        self.settings = settings
        self._index: HashIndex | None = None
        self._generation = -1

    @property
    def index(self) -> HashIndex:
        generation = self.banks.generation()
        if self._index is None or generation != self._generation:
            # Build the new index beside the old one, then swap: readers keep whichever
            # they hold, and the old one is freed when the last of them lets go.
            self._index = HashIndex.from_banks(self.banks, self.settings.vpdq_quality)
            self._generation = generation
        return self._index

    def match(self, path: str, query: QueryHashes, bank: str | None = None) -> list[Match]:
        entries = {e.id: e for e in self.banks.entries(bank)}
        matches = [
            Match(e.bank, "md5", path, e.content, 0.0, 0.0, 0.0, 0.0, distance=0, entry_id=e.id)
            for e in entries.values()
            if e.signal_type == "md5" and e.value == query.md5
        ]
        matches += self._match_pdq(path, query.pdq, entries)
        matches += self._match_vpdq(path, query.vpdq, entries, "vpdq")
        matches += self._match_vpdq(path, query.vpdq_cropped, entries, "vpdq_cropped")
        matches += self._match_tiles(path, query.vpdq_tiles, entries)
        return matches

    def _match_pdq(
        self, path: str, frames: Sequence[FrameHash], entries: dict[int, BankEntry]
    ) -> list[Match]:
        s = self.settings
        good = [f for f in frames if f.quality >= s.pdq_quality]
        best: dict[int, tuple[int, FrameHash]] = {}
        index = self.index
        for frame, hits in zip(
            good, index.search([f.pdq_hex for f in good], s.pdq_distance), strict=True
        ):
            for row, distance in hits:
                entry = entries.get(int(index.entry_ids[row]))
                if entry is None or entry.signal_type != "pdq":
                    continue
                if entry.id not in best or distance < best[entry.id][0]:
                    best[entry.id] = (distance, frame)
        out = []
        for eid, (distance, frame) in sorted(best.items()):
            t, entry = frame.timestamp_s, entries[eid]
            out.append(
                Match(
                    entry.bank, "pdq", path, entry.content, t, t, 0.0, 0.0, distance, entry_id=eid
                )
            )
        return out

    def _match_vpdq(
        self,
        path: str,
        frames: Sequence[FrameHash],
        entries: dict[int, BankEntry],
        signal_type: str,
    ) -> list[Match]:
        s = self.settings
        # Distinct query hashes above the quality bar, with the times they occur.
        query: dict[str, list[float]] = {}
        for f in frames:
            if f.quality >= s.vpdq_quality:
                query.setdefault(f.pdq_hex, []).append(f.timestamp_s)
        if not query:
            return []
        hexes = list(query)
        index = self.index
        found = _Found()
        for digest, hits in zip(hexes, index.search(hexes, s.vpdq_distance), strict=True):
            rows: dict[int, list[int]] = defaultdict(list)
            for row, _ in hits:
                entry = entries.get(int(index.entry_ids[row]))
                if entry is not None and entry.signal_type == signal_type:
                    rows[entry.id].append(row)
            for entry_id, entry_rows in rows.items():
                found.add(entry_id, query[digest], entry_rows)
        return self._video_matches(path, signal_type, entries, found, len(query))

    def _match_tiles(
        self, path: str, tiles: Sequence[FrameHash], entries: dict[int, BankEntry]
    ) -> list[Match]:
        """A query frame matches a banked video when at least `tiles_to_match` of its
        quadrants are near the same quadrants of that video's frames; the video matches
        when enough of the query's distinct frames do, as for vPDQ."""
        s = self.settings
        quadrants: dict[int, dict[int, str]] = defaultdict(dict)
        times: dict[int, float] = {}
        for f in tiles:
            times[f.frame] = f.timestamp_s
            if f.quality >= s.vpdq_quality:
                quadrants[f.frame][f.tile] = f.pdq_hex
        # Frames with enough good quadrants; identical frames counted once.
        query: dict[tuple[tuple[int, str], ...], list[float]] = defaultdict(list)
        for frame, found_tiles in quadrants.items():
            if len(found_tiles) >= s.tiles_to_match:
                query[tuple(sorted(found_tiles.items()))].append(times[frame])
        if not query:
            return []
        hexes = sorted({digest for key in query for _, digest in key})
        index = self.index
        hits = dict(zip(hexes, index.search(hexes, s.vpdq_distance), strict=True))
        found = _Found()
        for key, at in query.items():
            matched_tiles: dict[int, set[int]] = defaultdict(set)
            rows: dict[int, list[int]] = defaultdict(list)
            for tile, digest in key:
                for row, _ in hits[digest]:
                    entry = entries.get(int(index.entry_ids[row]))
                    if entry is None or entry.signal_type != "vpdq_tiles":
                        continue
                    if index.tiles[row] == tile:
                        matched_tiles[entry.id].add(tile)
                        rows[entry.id].append(row)
            for entry_id, which in matched_tiles.items():
                if len(which) >= s.tiles_to_match:
                    found.add(entry_id, at, rows[entry_id])
        return self._video_matches(path, "vpdq_tiles", entries, found, len(query))

    def _video_matches(
        self,
        path: str,
        signal_type: str,
        entries: dict[int, BankEntry],
        found: _Found,
        query_size: int,
    ) -> list[Match]:
        """Matches for the banked videos enough of the query's distinct frames matched."""
        s = self.settings
        index = self.index
        out = []
        for entry_id, matched in sorted(found.query_frames.items()):
            query_pct = 100.0 * matched / query_size
            target_rows = max(1, int(index.rows_per_entry[entry_id]))
            target_pct = 100.0 * len(found.rows[entry_id]) / target_rows
            if query_pct < s.vpdq_query_match_percent or target_pct < s.vpdq_target_match_percent:
                continue
            entry = entries[entry_id]
            out.append(
                Match(
                    entry.bank,
                    signal_type,
                    path,
                    entry.content,
                    *_aligned_spans(found.pairs[entry_id], index),
                    query_match_percent=query_pct,
                    target_match_percent=target_pct,
                    entry_id=entry_id,
                )
            )
        return out


class _Found:
    """What matched, per banked video: how many distinct query frames, which of its rows,
    and (query time, row) pairs for alignment."""

    def __init__(self) -> None:
        self.query_frames: dict[int, int] = defaultdict(int)
        self.rows: dict[int, set[int]] = defaultdict(set)
        self.pairs: dict[int, list[tuple[float, int]]] = defaultdict(list)

    def add(self, entry_id: int, query_times: Sequence[float], rows: Sequence[int]) -> None:
        self.query_frames[entry_id] += 1
        self.rows[entry_id].update(rows)
        self.pairs[entry_id].extend((t, row) for t in query_times for row in rows)


def _aligned_spans(
    pairs: Sequence[tuple[float, int]], index: HashIndex
) -> tuple[float, float, float, float]:
    """Which stretch of the query matched which stretch of the banked video.

    A static scene makes frames match at many times; the true alignment is the time
    offset most matched pairs agree on (to the second). The spans are those of the
    pairs that agree with it.
    """
    query_s = np.array([t for t, _ in pairs])
    target_s = index.first_s[[row for _, row in pairs]]
    offsets = np.round(target_s - query_s)
    values, counts = np.unique(offsets, return_counts=True)
    best = values[np.argmax(counts)]
    agree = np.abs(target_s - query_s - best) <= 1.0
    q, t = query_s[agree], target_s[agree]
    return float(q.min()), float(q.max()), float(t.min()), float(t.max())


@dataclass(frozen=True)
class QueryHashes:
    """A file's hashes as matching uses them."""

    md5: str
    pdq: list[FrameHash]
    vpdq: list[FrameHash]
    vpdq_cropped: list[FrameHash]
    vpdq_tiles: list[FrameHash]


def hash_for_matching(path: Path, settings: Settings) -> QueryHashes:
    """MD5, PDQ (1/s), and vPDQ, border-cropped vPDQ and quadrants (every frame) of a
    file, one decode."""
    extractors = [
        PdqExtractor(settings),
        VpdqExtractor(settings),
        VpdqCroppedExtractor(settings),
        VpdqTilesExtractor(settings),
    ]
    identity, signals = extract_file(path, extractors, settings)
    return hashes_of(identity.md5, signals)


def bank_file(banks: BankStore, bank: str, path: Path, settings: Settings) -> int:
    """Hash a file and add its MD5, its vPDQ and the border- and logo-robust signals
    beside it to `bank`, all or none; returns how many were new.

    Raises:
        MediaError: the file cannot be decoded.
        BankError: no such bank.
    """
    banks.require(bank)
    hashes = hash_for_matching(path, settings)
    entries: list[tuple[str, str, str, Sequence[FrameHash]]] = [("md5", path.name, hashes.md5, ())]
    for kind, frames in (
        ("vpdq", hashes.vpdq),
        ("vpdq_cropped", hashes.vpdq_cropped),
        ("vpdq_tiles", hashes.vpdq_tiles),
    ):
        if frames:
            entries.append((kind, path.name, "", frames))
    return banks.add_many(bank, entries)


# The extractors whose signals `hashes_of` reads (with the file's MD5).
HASH_EXTRACTORS = frozenset({"file_hash", "pdq", "vpdq", "vpdq_cropped", "vpdq_tiles"})


def hashes_of(md5: str, signals: Mapping[str, Sequence[Signal]]) -> QueryHashes:
    """QueryHashes from extractor outputs (missing extractors give no frames)."""
    return QueryHashes(
        md5,
        to_frame_hashes(signals.get("pdq", ())),
        to_frame_hashes(signals.get("vpdq", ())),
        to_frame_hashes(signals.get("vpdq_cropped", ())),
        to_frame_hashes(signals.get("vpdq_tiles", ())),
    )


@dataclass(frozen=True)
class MatchReport:
    """What `match` found for a file, and notes on why it may have found nothing."""

    matches: list[Match]
    notes: list[str]


def match_file(library: Library, path: Path, bank: str | None = None) -> MatchReport:
    """Match a file against the library's banks (or only `bank`): MD5, PDQ and vPDQ, with
    the matched time spans.

    Raises:
        BankError: no such bank.
        MediaError: the file cannot be decoded.
    """
    banks, settings = library.store.banks, library.settings
    if bank is not None:
        banks.require(bank)
    query = hash_for_matching(path, settings)
    found = Matcher(banks, settings.match).match(str(path.absolute()), query, bank)
    notes = []
    if not query.vpdq and not query.pdq:
        notes.append(f"{path} has no frame to hash (audio only)")
    elif query.vpdq and all(f.quality < settings.match.vpdq_quality for f in query.vpdq):
        notes.append(
            f"every frame of {path} is below the vPDQ quality bar "
            f"({settings.match.vpdq_quality}): too dark or flat to match"
        )
    return MatchReport(found, notes)


@dataclass(frozen=True)
class RematchResult:
    """Stored videos matched again against changed banks, and the matches they have now."""

    videos: int
    matches: int


class MatchingHook:
    """Matches each stored video's hashes against every bank and records what matched
    (`show` lists it); at the end of a run, matches again the stored videos whose matches
    predate the banks' last change. Registered under `videolearn.hooks`."""

    name = "matching"

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._matcher: Matcher | None = None

    def video_stored(self, video: StoredVideo) -> None:
        if not video.partial:
            self.record(video.video_id, video.path, video.md5, video.signals)
        elif HASH_EXTRACTORS & video.signals.keys():  # else its matches stand
            self.record(video.video_id, video.path, *self._stored_hashes(video.video_id))

    def run_finished(self) -> None:
        self.rematch()

    def record(
        self, video_id: str, path: str, md5: str, signals: Mapping[str, Sequence[Signal]]
    ) -> int:
        """Match a video's hashes against every bank, record the matches; how many."""
        banks = self.store.banks
        generation = banks.generation()
        if not banks.has_entries():
            banks.record_matches(video_id, [], generation)
            return 0
        if self._matcher is None:
            self._matcher = Matcher(banks, self.settings.match)
        found = self._matcher.match(path, hashes_of(md5, signals))
        banks.record_matches(
            video_id,
            [(m.entry_id, m.signal_type, json.dumps(m.to_json())) for m in found],
            generation,
        )
        return len(found)

    def rematch(self) -> RematchResult:
        """Match the stored videos again whose matches predate the banks' last change,
        from their stored hashes (no decoding). The caller holds the write lock."""
        banks = self.store.banks
        generation = banks.generation()
        done = banks.matched_generations()
        videos = matches = 0
        for row in self.store.videos():
            video_id = row.video_id
            if done.get(video_id) == generation:
                continue
            matches += self.record(video_id, row.path, *self._stored_hashes(video_id))
            videos += 1
        return RematchResult(videos, matches)

    def _stored_hashes(self, video_id: str) -> tuple[str, dict[str, list[Signal]]]:
        """A stored video's MD5 and its value signals by extractor, as `record` takes them."""
        signals: dict[str, list[Signal]] = {}
        md5 = ""
        for sig in self.store.rows_of(SignalRow, video_id):
            if sig.kind == "md5":
                md5 = sig.value
            signals.setdefault(sig.extractor, []).append(ValueSignal(sig.span, sig.kind, sig.value))
        return md5, signals
