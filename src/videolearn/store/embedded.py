"""The embedded store: one directory per library, LanceDB tables beside the library's
SQLite file. It implements `store.base.Store`.

LanceDB gives vectors, full text and filters in one query over files that can also live on
object storage. Each table's schema and rows are in `store.tables`; this module holds the
lock, the writes, index upkeep and the queries.

Layout::

    LIBRARY/
      lance/          videos, moments, signals, thumbnails, embeddings, text_vectors tables
      ledger.sqlite   per-file state, runs, banks (store.database; WAL)
      write.lock      held by the one writer
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import lance
import numpy as np
import pyarrow as pa

from videolearn.errors import LibraryLockedError, LibraryNotFoundError, VideoNotFoundError
from videolearn.store.banks import BankStore
from videolearn.store.base import ExtractorOutput, version_tag
from videolearn.store.database import open_database
from videolearn.store.decisions import DecisionStore
from videolearn.store.ledger import Ledger
from videolearn.store.moderation import ModerationStore
from videolearn.store.shelf import ShelfRow, ShelfStore, kinds_of
from videolearn.store.tables import (
    MOMENTS,
    SIGNAL_TABLES,
    SIGNALS,
    VIDEOS,
    MomentRow,
    R,
    SignalRow,
    TextHit,
    VectorHit,
    VectorPlace,
    VideoRow,
    table_of_row,
    table_of_signal,
)
from videolearn.store.themes import ThemeStore
from videolearn.store.tokens import TokenStore
from videolearn.store.verdicts import VerdictStore
from videolearn.types import Closing

# pylance warns before every fork of a process that imported it. A process with a store
# forks only to exec (subprocesses); decode children come from a forkserver that never
# imports Lance.
warnings.filterwarnings("ignore", message="lance is not fork-safe", category=UserWarning)

MARKER_FILE = "videolearn-library.json"
_TEXT_INDEX = "moments_text"
_VECTOR_INDEX = "text_vectors_ann"
# Scalar indexes the searches filter by (a million text vectors filtered by kind without
# one: 54 ms a query, with one 22 ms; by video 41 ms and 5 ms). Every derived table's
# `video_id` too: replacing a video's rows finds them by it.
_SCALAR_INDEXES = {"videos": (("video_id", "btree"),)} | {
    t.name: tuple(dict.fromkeys((("video_id", "btree"), *t.indexes))) for t in SIGNAL_TABLES
}
# Indexes older libraries have that nothing reads now (replacing a video's rows upserted
# them by `key`): dropped by `maintain`, else each would be folded at every maintenance.
_UNUSED_INDEXES = {f"{t.name}_key" for t in SIGNAL_TABLES}
_KIND = re.compile(r"^[a-z0-9_]{1,40}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_VIDEO_ID = re.compile(r"^[0-9a-f]{64}$")
_SCHEMAS = {"videos": VIDEOS} | {t.name: t.schema for t in SIGNAL_TABLES}
_DERIVED = tuple(t.name for t in SIGNAL_TABLES)


def _check_id(video_id: str) -> str:
    if not _VIDEO_ID.match(video_id):
        raise ValueError(f"not a video id: {video_id!r}")
    return video_id


def _check_kind(kind: str) -> str:
    if not _KIND.match(kind):
        raise ValueError(f"not a kind or modality name: {kind!r}")
    return kind


def _where(**allowed: Sequence[str]) -> str:
    """A filter keeping rows whose columns hold one of the allowed values; video ids and
    kinds are checked before they go into it."""
    clauses = []
    for column, values in allowed.items():
        check = _check_id if column == "video_id" else _check_kind
        if values:
            clauses.append(f"{column} IN (" + ", ".join(f"'{check(v)}'" for v in values) + ")")
    return " AND ".join(clauses)


def _in_language(language: str) -> str:
    """A filter keeping moments whose attrs say they are in `language`. Attrs are stored
    with sorted keys, so `language` comes first (before `low_confidence` and `words`): the
    filter reads the start of the column, whether other attrs follow or not."""
    if not _LANGUAGE.match(language):
        raise ValueError(f"not a language code: {language!r}")
    alone = json.dumps({"language": language})
    return f"(attrs = '{alone}' OR attrs LIKE '{alone[:-1]},%')"


# Text vectors searched in memory (below, `_FlatVectors`) while the table has no ANN index
# and at most this many rows (about 30 MB).
FLAT_SEARCH_MAX_ROWS = 20_000


class _FlatVectors:
    """A text-vector table held in memory, searched exactly by cosine distance."""

    def __init__(self, found: pa.Table) -> None:
        n = found.num_rows
        vectors = found["vector"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
        matrix = np.asarray(vectors, np.float32).reshape(n, -1) if n else np.zeros((0, 1))
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self.unit = (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)
        self.video_id = np.asarray(found["video_id"].to_pylist(), dtype=object)
        self.kind = np.asarray(found["kind"].to_pylist(), dtype=object)
        self.rows = found.drop_columns(["vector"]).to_pylist()
        # Which rows are of stored videos, for the `stored_paths` mapping it was made from
        # (the store hands out the same mapping until the videos table changes).
        self._stored: tuple[Mapping[str, str], np.ndarray] | None = None

    def nearest(  # noqa: PLR0917  a query and its filters, as search_text_vectors takes them
        self,
        vector: np.ndarray,
        limit: int,
        kinds: Sequence[str],
        video_ids: Sequence[str],
        max_distance: float | None,
        stored: Mapping[str, str] | None,
        background: np.ndarray | None = None,
    ) -> list[VectorHit]:
        if not self.rows or limit < 1:
            return []
        norm = float(np.linalg.norm(vector)) or 1.0
        distance = 1.0 - self.unit @ (vector / norm)  # (N,)
        keep = np.ones(len(self.rows), bool)
        if kinds:
            keep &= np.isin(self.kind, list(kinds))
        if video_ids:
            keep &= np.isin(self.video_id, list(video_ids))
        if stored is not None:
            if self._stored is None or self._stored[0] is not stored:
                mask = np.fromiter((v in stored for v in self.video_id), bool, len(self.rows))
                self._stored = (stored, mask)
            keep &= self._stored[1]
        if max_distance is not None:
            keep &= distance <= max_distance
        candidates = np.flatnonzero(keep)
        if len(candidates) > limit:
            part = np.argpartition(distance[candidates], limit - 1)[:limit]
            candidates = candidates[part]
        order = candidates[np.argsort(distance[candidates], kind="stable")]
        stats = _background_stats(self.unit[order], background)
        return [
            VectorHit(
                self.rows[i]["video_id"],
                self.rows[i]["start_s"],
                self.rows[i]["end_s"],
                self.rows[i]["kind"],
                self.rows[i]["model"],
                self.rows[i]["text"] or "",
                float(distance[i]),
                stats[n] if stats else None,
            )
            for n, i in enumerate(order)
        ]


def _background_stats(
    vectors: np.ndarray, background: np.ndarray | None
) -> list[tuple[float, float]]:
    """Each vector's mean and standard deviation of cosine similarity to the background
    queries (unit rows); none without them."""
    if background is None or not len(vectors):
        return []
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = (vectors / np.where(norms == 0, 1, norms)) @ background.T  # (N, Q)
    return [
        (float(m), float(s)) for m, s in zip(similarity.mean(1), similarity.std(1), strict=True)
    ]


def _rows(video_id: str, output: ExtractorOutput) -> dict[str, list[dict[str, Any]]]:
    """An extractor's signals as rows, by table."""
    rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in SIGNAL_TABLES}
    for i, sig in enumerate(output.signals):
        table = table_of_signal(sig)
        rows[table.name].append(
            {
                "key": f"{video_id}:{output.name}:{output.version}:{i}",
                "video_id": video_id,
                "extractor": output.name,
                "extractor_version": output.version,
                "start_s": sig.span.start_s,
                "end_s": sig.span.end_s,
            }
            | table.to_columns(sig)
        )
    return rows


# Rows a compacted fragment holds at most. Compaction rewrites a table's last fragment
# with the rows written since until it holds this many: with Lance's default (about a
# million) that rewrite grew with the table for the first million rows (maintenance 3 ->
# 18 ms a video over 9,000 synthetic videos, 123 sketch rows each); this bounds it.
FRAGMENT_ROWS = 100_000
# Bytes a compacted fragment holds at most, for tables of large rows (text vectors take
# about 1.6 KB a row): the last fragment rewritten at each compaction stays this size.
FRAGMENT_BYTES = 64 * 2**20


def segments_to_merge(sizes: Sequence[int], new_rows: int) -> int:
    """How many of an index's newest segments to fold the rows written since into (the
    rest stay as they are): the newest one while what is being folded holds at least as
    many rows, then the next, and so on (0: the new rows become a segment of their own).

    Folding new rows into a whole index rewrites it (LanceDB's and Lance's default), a
    cost that grows with the table; this keeps segments that double in size from the
    newest to the oldest, as a binary counter does: at most about log2(rows / new rows)
    segments, each row rewritten as many times. `sizes` are rows, oldest first.
    """
    folded, count = new_rows, 0
    for size in reversed(sizes):
        if folded < size:
            break
        folded += size
        count += 1
    return count


def _index_cover(dataset: lance.LanceDataset) -> Iterator[tuple[str, list[int], int]]:
    """For each index of a table: its name, the rows of each of its segments (oldest
    first), and the rows it does not cover yet."""
    rows = {f.fragment_id: f.metadata.physical_rows for f in dataset.get_fragments()}
    for index in dataset.describe_indices():
        segments = list(index.segments)
        covered = set().union(*(s.fragment_ids for s in segments))
        sizes = [sum(rows.get(f, 0) for f in s.fragment_ids) for s in segments]
        yield index.name, sizes, sum(n for f, n in rows.items() if f not in covered)


def _fold_into_indexes(uri: str) -> None:
    """Fold the rows a table's indexes do not cover yet into them, each index by
    `segments_to_merge` (a search reads every segment: ~0.3 ms each, measured on a
    3.2-million-row full-text index)."""
    for name, sizes, new_rows in list(_index_cover(lance.dataset(uri))):
        if new_rows:
            lance.dataset(uri).optimize.optimize_indices(
                index_names=[name], num_indices_to_merge=segments_to_merge(sizes, new_rows)
            )


def _fragment_rows(dataset: lance.LanceDataset) -> int:
    """The rows a compacted fragment of this table holds: `FRAGMENT_ROWS`, fewer where
    rows are large (`FRAGMENT_BYTES`)."""
    size = rows = 0
    for fragment in dataset.get_fragments():
        files = fragment.metadata.files
        if all(f.file_size_bytes for f in files):
            size += sum(f.file_size_bytes or 0 for f in files)
            rows += fragment.metadata.physical_rows
    if not rows or not size:
        return FRAGMENT_ROWS
    return int(min(FRAGMENT_ROWS, max(1_000, FRAGMENT_BYTES * rows / size)))


class LibraryStore(Closing):
    """A library directory opened for reading and, under `writing()`, for writing."""

    def __init__(self, root: Path, create: bool) -> None:
        self.root = root
        marker = root / MARKER_FILE
        if not marker.is_file():
            if not create:
                raise LibraryNotFoundError(
                    f"{root} is not a videolearn library (no {MARKER_FILE}); "
                    "run `videolearn index PATH` to create one"
                )
            if root.exists() and any(root.iterdir()):
                raise LibraryNotFoundError(
                    f"{root} exists, is not empty and is not a videolearn library; "
                    "choose another --library"
                )
            root.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps({"format": 1}) + "\n")
        self.database = open_database(root)
        self._lance_dir = root / "lance"
        if not all(self._complete(name, schema) for name, schema in _SCHEMAS.items()):
            self._tables  # noqa: B018  LanceDB creates the tables or adds the columns
        self._lock_fd: int | None = None
        # Once the full-text index exists it stays: searches need not ask again.
        self._has_text_index = False
        self._paths: dict[str, str] = {}
        self._paths_version = -1
        self._flat: tuple[int, _FlatVectors | None] | None = None
        self._flat_lock = threading.Lock()
        self._readers: dict[str, lance.LanceDataset] = {}
        self._versions_dropped_at = time.monotonic()

    def _complete(self, name: str, schema: pa.Schema) -> bool:
        """Whether a table exists with every column of `schema`."""
        path = self._lance_dir / f"{name}.lance"
        return path.is_dir() and set(schema.names) <= set(lance.dataset(str(path)).schema.names)

    @functools.cached_property
    def _tables(self) -> dict[str, Any]:
        """The tables through LanceDB, connected when first needed: to write, to search
        by text or vector, to build indexes. Reads go through Lance itself (`_dataset`):
        importing LanceDB costs 1-2 s (its REST client's models), a CLI call's most.
        A table that is missing is created; one written by an older version gets the
        columns added since (nulls)."""
        import lancedb

        db = lancedb.connect(str(self._lance_dir))
        existing = set(db.list_tables().tables)
        tables: dict[str, Any] = {}
        for name, schema in _SCHEMAS.items():
            if name not in existing:
                tables[name] = db.create_table(name, schema=schema, exist_ok=True)
                continue
            tables[name] = table = db.open_table(name)
            missing = [f for f in schema if f.name not in set(table.schema.names)]
            if missing:
                table.add_columns(pa.schema(missing))
        return tables

    def _dataset(self, name: str) -> lance.LanceDataset:
        """A table's latest version, for reading (opening one costs about a millisecond)."""
        return lance.dataset(str(self._lance_dir / f"{name}.lance"))

    def _reader(self, name: str) -> lance.LanceDataset:
        """A table's latest version, kept open between the reads of a server's threads
        while its version stays (`_version`, a directory listing, is the check)."""
        version = self._version(name)
        reader = self._readers.get(name)
        if reader is None or reader.version != version:
            reader = self._readers[name] = self._dataset(name)
        return reader

    @property
    def ledger(self) -> Ledger:
        return self.database.ledger

    @property
    def banks(self) -> BankStore:
        return self.database.banks

    @property
    def tokens(self) -> TokenStore:
        return self.database.tokens

    @property
    def decisions(self) -> DecisionStore:
        return self.database.decisions

    @property
    def themes(self) -> ThemeStore:
        return self.database.themes

    @property
    def verdicts(self) -> VerdictStore:
        return self.database.verdicts

    @property
    def moderation(self) -> ModerationStore:
        return self.database.moderation

    def close(self) -> None:
        self.database.close()

    # -- writing ------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the library's write lock. Raises LibraryLockedError when another process
        holds it."""
        fd = os.open(self.root / "write.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LibraryLockedError(
                f"another process is writing to the library {self.root}; wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def writer_busy(self) -> bool:
        """Whether another process holds the write lock now (a run going on)."""
        fd = os.open(self.root / "write.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)

    def unindexed_rows(self) -> dict[str, int]:
        """Rows of each table that one of its indexes does not cover yet (written since
        the last `maintain`), tables with none left out."""
        out = {}
        for name in _SCHEMAS:
            left = max((new for _, _, new in _index_cover(self._dataset(name))), default=0)
            if left:
                out[name] = left
        return out

    def write_video(self, video: VideoRow, outputs: Sequence[ExtractorOutput]) -> None:
        """Store a video and everything extracted from it, replacing what was there; its
        `extractors` are those of `outputs`.

        Derived rows first, the `videos` row last. A write costs the same however large
        the library (`bench/store_growth.py`): a video the library has never held
        (`WrittenVideos`, marked before its first row) has its rows appended; a stored
        one's rows are replaced in one commit a table (`_replace_where`), found through
        the `video_id` index. Rows written since the last `maintain` are read beside the
        indexes, so `maintain` runs every few hundred videos (`index` does it every
        `maintain_every`). (One upsert per table that also dropped the video's other rows
        read the whole table: 151 ms a video at 500 videos, growing.)
        """
        video_id = _check_id(video.video_id)
        # What the copy rule said of it was said of the signals it had.
        self.verdicts.forget_video(video_id)
        written = self.database.written
        if not written.complete():
            written.fill(self._video_ids_in("videos").union(*map(self._video_ids_in, _DERIVED)))
        fresh = not written.has(video_id)
        written.mark(video_id)  # before any row: a write cut short is redone with care
        rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in SIGNAL_TABLES}
        for output in outputs:
            for name, table_rows in _rows(video_id, output).items():
                rows[name].extend(table_rows)
        row = video.to_arrow()
        row["extractors"] = json.dumps(
            {o.name: version_tag(o.version, o.revision) for o in outputs}, sort_keys=True
        )
        rows["videos"] = [row]

        def put(name: str) -> None:
            if fresh:
                if rows[name]:
                    self._tables[name].add(pa.Table.from_pylist(rows[name], schema=_SCHEMAS[name]))
            else:
                self._replace_where(name, f"video_id = '{video_id}'", rows[name])

        for name in _DERIVED:
            put(name)
        # The shelf before the `videos` row too: a write cut short between them (a full
        # disk) leaves no video row, so the next run writes the video again, where it
        # took the stored row for a whole video and never listed it.
        shelf = self.database.shelf
        shelf.put(
            ShelfRow(
                video_id,
                video.path,
                video.duration_s,
                shelf.file_time(video_id),
                time.time(),
                bool(video.width_px),
                kinds_of(r["modality"] for r in rows["moments"]),
            )
        )
        put("videos")

    def replace_outputs(
        self, video_id: str, outputs: Sequence[ExtractorOutput], dropped: Collection[str] = ()
    ) -> None:
        """Make `outputs` the rows of their extractors on a stored video and delete the
        rows of the extractors `dropped`, keeping every other extractor's rows; its
        `extractors` record follows. What `index` does when only some extractors changed
        (a new version, new weights, one enabled or disabled): the rest are not run again.

        Raises:
            VideoNotFoundError: the video is not stored.
        """
        video_id = _check_id(video_id)
        stored = self.get_video(video_id)
        if stored is None:
            raise VideoNotFoundError(f"video {video_id} is not stored")
        self.verdicts.forget_video(video_id)
        names = sorted({o.name for o in outputs} | set(dropped))
        rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in SIGNAL_TABLES}
        for output in outputs:
            for name, table_rows in _rows(video_id, output).items():
                rows[name].extend(table_rows)
        for name in _DERIVED:
            scope = f"video_id = '{video_id}' AND {_where(extractor=names)}"
            self._replace_where(name, scope, rows[name])
        extractors = {k: v for k, v in stored.extractors.items() if k not in names}
        extractors |= {o.name: version_tag(o.version, o.revision) for o in outputs}
        self._tables["videos"].update(
            where=f"video_id = '{video_id}'",
            values={"extractors": json.dumps(extractors, sort_keys=True)},
        )
        found = self._query("moments", f"video_id = '{video_id}'", ["modality"])
        self.database.shelf.set_kinds(video_id, kinds_of(r["modality"] for r in found))

    def _replace_where(self, name: str, scope: str, rows: list[dict[str, Any]]) -> None:
        """Make `rows` the rows of one table that `scope` selects, in one commit (Lance's
        Update): the rows in scope marked deleted in their fragments, the new ones written
        as a fragment of their own. A reader sees the old rows or the new ones. The rows in
        scope are found through the `video_id` index (and a scan of the rows written since
        the last `maintain`), so the cost is the video's, whatever the table's size: at
        5,000 synthetic videos (another job on the other core) a stored video written
        again took 59-63 ms where an upsert by key, a count and a delete in each table took
        154-160 ms and made two versions a table.
        """
        dataset = self._dataset(name)
        found = dataset.to_table(columns=[], filter=scope, with_row_address=True)
        offsets: dict[int, list[int]] = {}
        for address in found["_rowaddr"].to_pylist():
            offsets.setdefault(address >> 32, []).append(address & 0xFFFFFFFF)
        removed, updated = [], []
        for fragment_id, at in offsets.items():
            fragment = dataset.get_fragment(fragment_id)
            assert fragment is not None  # its rows were just read from this version
            rest = fragment.delete_rows(at)
            if rest is None:
                removed.append(fragment_id)
            else:
                updated.append(rest)
        schema = _SCHEMAS[name]
        added = (
            lance.fragment.write_fragments(pa.Table.from_pylist(rows, schema=schema), dataset)
            if rows
            else []
        )
        if not (removed or updated or added):
            return
        operation = lance.LanceOperation.Update(
            removed_fragment_ids=removed, updated_fragments=updated, new_fragments=added
        )
        lance.LanceDataset.commit(dataset, operation, read_version=dataset.version)
        if "_tables" in self.__dict__:  # LanceDB's view of the table follows
            self._tables[name].checkout_latest()

    def set_path(self, video_id: str, path: str) -> None:
        """Record where a video's file now lives."""
        self._tables["videos"].update(
            where=f"video_id = '{_check_id(video_id)}'", values={"path": path}
        )
        self.database.shelf.move(video_id, path)

    def delete_video(self, video_id: str) -> None:
        """Remove a video and every row derived from it, then its ledger entries."""
        _check_id(video_id)
        self._tables["videos"].delete(f"video_id = '{video_id}'")
        for name in _DERIVED:
            if self._count(name, video_id):
                self._tables[name].delete(f"video_id = '{video_id}'")
        self.ledger.remove_video(video_id)
        self.database.written.unmark(video_id)  # after its last row
        self.banks.forget_video(video_id)
        self.decisions.forget_video(video_id)
        self.themes.forget_video(video_id)
        self.verdicts.forget_video(video_id)
        self.moderation.forget_video(video_id)
        self.database.shelf.drop(video_id)

    def shelf(self) -> ShelfStore:
        """The shelf the library view lists, put together from the tables first when the
        library was written before it was kept (once: seconds at 100,000 videos)."""
        shelf = self.database.shelf
        if not shelf.complete():
            kinds: dict[str, set[str]] = {}
            for r in self._query("moments", None, ["video_id", "modality"]):
                kinds.setdefault(r["video_id"], set()).add(r["modality"])
            times = self.ledger.file_times()
            shelf.fill(
                ShelfRow(
                    v.video_id,
                    v.path,
                    v.duration_s,
                    times.get(v.video_id),
                    times.get(v.video_id) or 0.0,
                    bool(v.width_px),
                    kinds_of(kinds.get(v.video_id, ())),
                )
                for v in self.videos()
            )
        return shelf

    def delete_orphans(self) -> int:
        """Delete derived rows whose video is not in `videos`; returns how many videos."""
        orphans = self.orphan_video_ids()
        for video_id in orphans:
            for name in _DERIVED:
                self._tables[name].delete(f"video_id = '{video_id}'")
            self.database.shelf.drop(video_id)
        return len(orphans)

    def cleanup_versions(self, older_than_s: float, *, drop_versions: bool = True) -> None:
        """Compact each table's small fragments, fold the rows written since into its
        indexes, and (with `drop_versions`) delete table versions older than
        `older_than_s`.

        Through Lance itself (`pylance`), each step on its own: LanceDB's `optimize` does
        the same in one call, but its cost grew with the table (at 4,500 synthetic videos,
        19 s for the last 500, against 5 s here), where Lance's steps cost what the new
        rows cost (`bench/store_growth.py`). Folding rows into an index rewrote the whole
        index, which grew with it too (`segments_to_merge`)."""
        keep = timedelta(seconds=older_than_s)
        for table in self._tables.values():
            uri = table.to_lance().uri
            # Each step commits a version: the next opens the dataset anew on it.
            dataset = lance.dataset(uri)
            dataset.optimize.compact_files(target_rows_per_fragment=_fragment_rows(dataset))
            _fold_into_indexes(uri)
            if drop_versions:
                lance.dataset(uri).cleanup_old_versions(older_than=keep)
            table.checkout_latest()
        if drop_versions:
            self._versions_dropped_at = time.monotonic()

    def maintain(
        self,
        vector_index_min_rows: int,
        keep_versions_s: float,
        *,
        run_over: bool = True,
        drop_every_s: float | None = None,
    ) -> None:
        """`build_indexes`, then `cleanup_versions`: what keeps a growing library's writes
        and reads at a constant cost. `index` runs it every `maintain_every` videos and
        when the run is over.

        Within a run (`run_over` False), versions older than `keep_versions_s` are dropped
        only once `drop_every_s` has passed since they last were. A drop reads every
        version there is, the kept ones too (about 0.4 ms a version, whatever the
        library's size), and each video written makes a version of each table: a version
        is read 1 + `keep_versions_s` / `drop_every_s` times in all. Dropping every 500
        videos cost more the longer versions were kept (4.8 to 24 ms a video over 3,000
        synthetic videos, keeping 300 s); dropping once per the time kept read each
        version twice."""
        self.build_indexes(vector_index_min_rows)
        every = keep_versions_s if drop_every_s is None else drop_every_s
        due = run_over or time.monotonic() - self._versions_dropped_at >= every
        self.cleanup_versions(keep_versions_s, drop_versions=due)

    def build_indexes(self, vector_index_min_rows: int) -> None:
        """Create the search indexes each table is ready for: the full-text index over
        moment text, the scalar indexes searches filter by, and the vector index once
        there are `vector_index_min_rows` text vectors."""
        self.ensure_text_index()
        self.ensure_scalar_indexes()
        self.ensure_vector_index(vector_index_min_rows)

    def ensure_text_index(self) -> None:
        """Create the full-text index over moment text once there is text to index.

        Rows written later are searched too (LanceDB scans what its index does not cover)
        and folded into the index by `cleanup_versions`' optimize.
        """
        if self._has_text_index:
            return
        table = self._tables["moments"]
        if any(i.name == _TEXT_INDEX for i in table.list_indices()):
            self._has_text_index = True
            return
        if table.count_rows() == 0:
            return
        from lancedb.index import FTS

        # Language-neutral tokens: transcripts come in any language, so no stemming and
        # no English stop words; accents folded so that "strasse" finds "straße".
        config = FTS(
            base_tokenizer="simple",
            lower_case=True,
            stem=False,
            remove_stop_words=False,
            ascii_folding=True,
            with_position=True,
        )
        table.create_index("text", config=config, name=_TEXT_INDEX)
        self._has_text_index = True

    def ensure_scalar_indexes(self) -> None:
        """Create the indexes on the columns searches filter by, in tables that have rows,
        and drop those nothing reads (`_UNUSED_INDEXES`). Rows written later are read
        beside them and folded in by `cleanup_versions`."""
        from lancedb.index import Bitmap, BTree

        for name, columns in _SCALAR_INDEXES.items():
            table = self._tables[name]
            if table.count_rows() == 0:
                continue
            have = {i.name for i in table.list_indices()}
            for unused in have & _UNUSED_INDEXES:
                table.drop_index(unused)
            for column, kind in columns:
                index = f"{name}_{column}"
                if index not in have:
                    config = BTree() if kind == "btree" else Bitmap()
                    table.create_index(column, config=config, name=index)

    def ensure_vector_index(self, min_rows: int) -> bool:
        """Build an ANN index (IVF with 8-bit scalar quantization, cosine) over the text
        vectors once there are at least `min_rows` of them; below that a flat scan is about
        as fast and exact. (IVF-HNSW-SQ took 13 minutes to build over a million vectors
        on 2 cores and found fewer true neighbours; IVF-SQ 41 s: `bench/search.py`.)

        Rows written later are searched too (flat, beside the index) and folded into it by
        `cleanup_versions`' optimize. Returns whether the table has the index now.
        """
        table = self._tables["text_vectors"]
        if any(i.name == _VECTOR_INDEX for i in table.list_indices()):
            return True
        if table.count_rows() < max(min_rows, 1):
            return False
        from lancedb.index import IvfSq

        table.create_index("vector", config=IvfSq(distance_type="cosine"), name=_VECTOR_INDEX)
        return True

    def search_text_vectors(
        self,
        vector: np.ndarray,
        limit: int = 20,
        kinds: Sequence[str] = (),
        video_ids: Sequence[str] = (),
        max_distance: float | None = None,
        *,
        stored_only: bool = True,
        nprobes: int | None = None,
        background: np.ndarray | None = None,
    ) -> list[VectorHit]:
        """Text vectors nearest `vector` (by cosine distance), best first;
        only of `kinds` (`e5_speech`, ...) and `video_ids` when given, and only those at
        most `max_distance` away when given. Of stored videos only unless `stored_only`
        is False (for a caller that checks its own hits). `nprobes`: the ANN index's
        partitions to look in (LanceDB's default when None). With `background` (unit
        query vectors, one a row), each hit says how its text scores for those."""
        _where(kind=kinds, video_id=video_ids)  # checks them, whichever path answers
        # The table's latest version, read once for both paths (a version check is a
        # directory listing).
        dataset = self._reader("text_vectors")
        flat = self._flat_text_vectors(dataset)
        if flat is not None:
            return flat.nearest(
                np.asarray(vector, np.float32),
                limit,
                kinds,
                video_ids,
                max_distance,
                self.stored_paths() if stored_only else None,
                background,
            )
        # Through Lance itself, on the table's latest version: a LanceDB table handle
        # stays on the version it opened, so a server's searches missed what an index run
        # in another process wrote, and read files that run's drop of old versions
        # deleted.
        # Not the vectors themselves (turning them into lists costs more than the search),
        # unless the background statistics need them.
        columns = ["key", "video_id", "start_s", "end_s", "kind", "model", "text", "_distance"]
        if background is not None:
            columns.append("vector")
        where = _where(kind=kinds, video_id=video_ids) or None
        query = np.asarray(vector, dtype=np.float32)

        def fetch(n: int) -> list[dict[str, Any]]:
            nearest: dict[str, Any] = {"column": "vector", "q": query, "k": n, "metric": "cosine"}
            if nprobes is not None:
                nearest["minimum_nprobes"] = nearest["maximum_nprobes"] = nprobes
            if max_distance is not None:
                nearest["distance_range"] = (None, max_distance)
            found = dataset.to_table(columns=columns, nearest=nearest, filter=where, prefilter=True)
            return list(found.to_pylist())

        found = self._of_stored_videos(fetch, limit) if stored_only else fetch(limit)
        stats = (
            _background_stats(np.asarray([r["vector"] for r in found], np.float32), background)
            if background is not None and found
            else []
        )
        return [
            VectorHit(
                r["video_id"],
                r["start_s"],
                r["end_s"],
                r["kind"],
                r["model"],
                r["text"] or "",
                float(r["_distance"]),
                stats[n] if stats else None,
            )
            for n, r in enumerate(found)
        ]

    def _flat_text_vectors(self, dataset: lance.LanceDataset) -> _FlatVectors | None:
        """The text vectors of `dataset` (the table's latest version) in memory, for a
        small table without an ANN index: LanceDB's flat search of 10,000 vectors cost 11
        ms of CPU a query here, numpy's well under one. Read again when the table has
        changed; None for a large or indexed table."""
        with self._flat_lock:
            if self._flat is not None and self._flat[0] == dataset.version:
                return self._flat[1]
            flat = None
            indexed = any(i.name == _VECTOR_INDEX for i in dataset.describe_indices())
            if not indexed and dataset.count_rows() <= FLAT_SEARCH_MAX_ROWS:
                columns = ["video_id", "start_s", "end_s", "kind", "model", "text", "vector"]
                flat = _FlatVectors(dataset.to_table(columns=columns))
            self._flat = (dataset.version, flat)
            return flat

    def search_text(  # noqa: PLR0917  a query and its filters
        self,
        query: str,
        limit: int = 20,
        modalities: Sequence[str] = (),
        video_ids: Sequence[str] = (),
        language: str = "",
        all_words: bool = False,
        *,
        stored_only: bool = True,
    ) -> list[TextHit]:
        """Moments whose text matches `query` (BM25), best first, without their attrs;
        only of `modalities` and `video_ids` when given, only speech in `language` when
        given (other modalities have none), and only those with every word of the query
        when `all_words` (else any). Of stored videos only unless `stored_only` is False."""
        if not query.strip():
            return []
        self.ensure_text_index()
        if not self._has_text_index:  # no moment yet
            return []
        from lance.query import FullTextOperator, MatchQuery

        operator = FullTextOperator.AND if all_words else FullTextOperator.OR
        match = MatchQuery(query, "text", operator=operator)
        clauses = [_where(modality=modalities, video_id=video_ids)]
        if language:
            clauses.append(f"(modality <> 'speech' OR {_in_language(language)})")
        where = " AND ".join(c for c in clauses if c) or None
        # Through Lance itself: LanceDB's search asked for the table's schema and went
        # through its event loop's thread each time (2.97 ms a query on 10,000 moments,
        # against 1.91 here). Rows the index does not cover yet are searched too.
        dataset = self._reader("moments")
        # Not `attrs`: a transcript segment's holds every word with its times.
        columns = ["video_id", "start_s", "end_s", "modality", "label", "text", "_score"]

        def fetch(n: int) -> list[dict[str, Any]]:
            found = dataset.to_table(
                columns=columns, full_text_query=match, filter=where, prefilter=True, limit=n
            )
            return list(found.to_pylist())

        found = self._of_stored_videos(fetch, limit) if stored_only else fetch(limit)
        return [
            TextHit(
                r["video_id"],
                r["start_s"],
                r["end_s"],
                r["modality"],
                r["label"] or "",
                r["text"] or "",
                float(r["_score"]),
            )
            for r in found
        ]

    def embedding_matrix(
        self, kind: str, model: str, video_ids: Sequence[str] = ()
    ) -> tuple[list[VectorPlace], np.ndarray]:
        """The stored `kind` vectors of `model` (of `video_ids` when given) and of stored
        videos: each row's video_id, start_s and end_s, and the vectors as one matrix."""
        escaped = model.replace("'", "''")
        where = f"kind = '{_check_kind(kind)}' AND model = '{escaped}'"
        return self._matrix("embeddings", where, video_ids)

    def text_vector_matrix(
        self, kinds: Sequence[str] = (), video_ids: Sequence[str] = ()
    ) -> tuple[list[VectorPlace], np.ndarray]:
        """The stored videos' text vectors (of `kinds` and `video_ids` when given), as
        `embedding_matrix` gives them."""
        return self._matrix("text_vectors", _where(kind=kinds) if kinds else "", video_ids)

    def _matrix(
        self, name: str, where: str, video_ids: Sequence[str]
    ) -> tuple[list[VectorPlace], np.ndarray]:
        dataset = self._dataset(name)
        if dataset.count_rows() == 0:
            return [], np.zeros((0, 0), np.float32)
        if video_ids:
            where = " AND ".join(w for w in (where, _where(video_id=video_ids)) if w)
        columns = ["video_id", "start_s", "end_s", "vector"]
        found = dataset.to_table(columns=columns, filter=where or None)
        known = self.stored_paths()
        keep = [i for i, v in enumerate(found["video_id"].to_pylist()) if v in known]
        found = found.take(pa.array(keep, pa.int64()))
        if found.num_rows == 0:
            return [], np.zeros((0, 0), np.float32)
        vectors = found["vector"].combine_chunks()
        matrix = np.asarray(vectors.flatten().to_numpy(), np.float32).reshape(found.num_rows, -1)
        places = [
            VectorPlace(r["video_id"], r["start_s"], r["end_s"])
            for r in found.drop_columns(["vector"]).to_pylist()
        ]
        return places, matrix

    def moments_of(
        self, modalities: Sequence[str], video_ids: Sequence[str] = ()
    ) -> list[MomentRow]:
        """The stored videos' moments of `modalities` (of `video_ids` when given), by
        video, start and key."""
        where = _where(modality=modalities)
        if video_ids:
            where += " AND " + _where(video_id=video_ids)
        known = self.stored_paths()
        rows = [MOMENTS.read(r) for r in self._query("moments", where) if r["video_id"] in known]
        return sorted(rows, key=lambda r: (r.video_id, r.start_s, r.key))

    def signals_of_kind(self, kind: str, video_ids: Sequence[str] = ()) -> list[SignalRow]:
        """The stored videos' `kind` values (of `video_ids` when given), by video and start."""
        where = f"kind = '{_check_kind(kind)}'"
        if video_ids:
            where += " AND " + _where(video_id=video_ids)
        known = self.stored_paths()
        rows = [SIGNALS.read(r) for r in self._query("signals", where) if r["video_id"] in known]
        return sorted(rows, key=lambda r: (r.video_id, r.start_s, r.key))

    def speaking(self, language: str) -> set[str]:
        """The videos with speech in `language` (an ISO 639 code, as Whisper gives it)."""
        where = f"modality = 'speech' AND {_in_language(language)}"
        return {r["video_id"] for r in self._query("moments", where, ["video_id"])}

    def _of_stored_videos(
        self, fetch: Callable[[int], list[dict[str, Any]]], limit: int
    ) -> list[dict[str, Any]]:
        """The first `limit` hits `fetch(n)` finds (n at most) whose video is stored:
        derived rows of a video whose write was cut short have no video row. Asks for a
        few more than `limit`, and for more again while those are not enough."""
        paths = self.stored_paths()
        depth = limit + 16
        while True:
            hits = fetch(depth)
            kept = [h for h in hits if h["video_id"] in paths]
            if len(kept) >= limit or len(hits) < depth:
                return kept[:limit]
            depth *= 4

    def stored_paths(self) -> Mapping[str, str]:
        """Every stored video's path, by id: read again only when the `videos` table
        has changed since (a search looks up the paths of its hits in it)."""
        version = self._version("videos")
        if self._paths_version != version:
            rows = self._query("videos", columns=["video_id", "path"])
            self._paths = {r["video_id"]: r["path"] or "" for r in rows}
            self._paths_version = version
        return self._paths

    def shown_paths(self) -> Mapping[str, str]:
        """`stored_paths` without the videos a `block` verdict holds back (pending or
        accepted): what search, recommendations, themes and listings may show."""
        blocked = self.moderation.blocked()
        paths = self.stored_paths()
        return {v: p for v, p in paths.items() if v not in blocked} if blocked else paths

    def version_count(self) -> int:
        """Table versions kept on disk, all tables together."""
        return sum(len(self._dataset(name).versions()) for name in _SCHEMAS)

    def state(self) -> str:
        return ",".join(f"{name}:{self._version(name)}" for name in sorted(_SCHEMAS))

    def _version(self, name: str) -> int:
        """A table's latest version, from the names of its manifests (a directory listing:
        opening the table to ask cost a millisecond or more, each table each call)."""
        latest = _latest_manifest(self._lance_dir / f"{name}.lance" / "_versions")
        return self._dataset(name).version if latest is None else latest

    # -- reading ------------------------------------------------------------------------

    def _count(self, table: str, video_id: str) -> int:
        return int(self._dataset(table).count_rows(f"video_id = '{video_id}'"))

    def _query(
        self, table: str, where: str | None = None, columns: list[str] | None = None
    ) -> list[dict[str, Any]]:
        dataset = self._dataset(table)
        if dataset.count_rows() == 0:
            return []
        return list(dataset.to_table(columns=columns, filter=where).to_pylist())

    def get_video(self, video_id: str) -> VideoRow | None:
        rows = self._query("videos", f"video_id = '{_check_id(video_id)}'")
        return VideoRow.from_arrow(rows[0]) if rows else None

    def videos(self) -> list[VideoRow]:
        rows = map(VideoRow.from_arrow, self._query("videos"))
        return sorted(rows, key=lambda r: r.path)

    def videos_of(self, video_ids: Sequence[str]) -> list[VideoRow]:
        """The stored videos of `video_ids`, in their order (those not stored left out),
        read in one query."""
        if not video_ids:
            return []
        listed = ", ".join(f"'{_check_id(v)}'" for v in video_ids)
        found = {
            r.video_id: r
            for r in map(VideoRow.from_arrow, self._query("videos", f"video_id IN ({listed})"))
        }
        return [found[v] for v in video_ids if v in found]

    def video_ids(self) -> set[str]:
        return self._video_ids_in("videos")

    def _video_ids_in(self, table: str) -> set[str]:
        return {r["video_id"] for r in self._query(table, columns=["video_id"])}

    def find_by_path(self, path: str) -> VideoRow | None:
        entry = self.ledger.get(path)
        if entry and entry.video_id:
            found = self.get_video(entry.video_id)
            if found:
                return found
        escaped = path.replace("'", "''")
        rows = self._query("videos", f"path = '{escaped}'")
        return VideoRow.from_arrow(rows[0]) if rows else None

    def find_by_id_prefix(self, prefix: str) -> list[VideoRow]:
        if not re.fullmatch(r"[0-9a-f]{6,64}", prefix):
            return []
        where = f"video_id LIKE '{prefix}%'"
        return sorted(map(VideoRow.from_arrow, self._query("videos", where)), key=lambda r: r.path)

    def rows_of(self, row_type: type[R], video_id: str) -> list[R]:
        table = table_of_row(row_type)
        rows = self._query(table.name, f"video_id = '{_check_id(video_id)}'")
        found = [table.read(r) for r in rows]
        return sorted(found, key=lambda r: (r.start_s, r.extractor, r.key))

    def orphan_video_ids(self) -> set[str]:
        known = self.video_ids()
        orphans: set[str] = set()
        for name in _DERIVED:
            orphans |= self._video_ids_in(name) - known
        return orphans

    def table_counts(self) -> Mapping[str, int]:
        return {name: int(self._dataset(name).count_rows()) for name in _SCHEMAS}


_U64 = 2**64 - 1


def _latest_manifest(versions: Path) -> int | None:
    """The highest version among Lance's manifests in `versions` (`N.manifest`, or under
    its second naming scheme `(2^64 - 1 - N).manifest`, zero-padded); None when there is
    none to read."""
    latest = None
    try:
        with os.scandir(versions) as entries:
            for entry in entries:
                stem, _, suffix = entry.name.partition(".")
                if suffix != "manifest" or not stem.isdigit():
                    continue
                number = int(stem)
                version = _U64 - number if len(stem) == 20 else number
                latest = version if latest is None else max(latest, version)
    except OSError:
        return None
    return latest


def open_embedded_store(root: Path, create: bool = False) -> LibraryStore:
    """Open a library directory; with `create`, make it when missing.

    Raises:
        LibraryNotFoundError: the directory is not a library (and `create` is False).
    """
    return LibraryStore(root, create=create)
