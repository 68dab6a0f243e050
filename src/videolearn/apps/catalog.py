"""What a library holds, and keeping it in order: status, one video in full, a title a
person gives it, forgetting a video, and the consistency check (`doctor`).

Every adapter answers `status`, `show`, `title`, `forget` and `doctor` from here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from videolearn.apps import audit
from videolearn.apps.playback import delete_playable
from videolearn.errors import QueryError, VideoNotFoundError
from videolearn.extractors.ocr import engine_name, missing_packs
from videolearn.learning.words import unused_map
from videolearn.library import Library
from videolearn.plugins import PluginProblem
from videolearn.store.ledger import FileStatus
from videolearn.store.shelf import KINDS, SORTS, ShelfRow, shown_name
from videolearn.store.tables import (
    EmbeddingRow,
    MomentRow,
    SignalRow,
    TextVectorRow,
    ThumbnailRow,
    VideoRow,
)
from videolearn.types import TimeSpan, shown_path


@dataclass(frozen=True)
class FileFailure:
    """A file that could not be indexed, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class LibraryStatus:
    """Counts of indexed videos, failed and pending files, every failure's reason, and the
    plug-ins that were skipped."""

    indexed: int
    failed: int
    pending: int
    failures: list[FileFailure]
    skipped_plugins: list[PluginProblem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The `status --json` document."""
        return {
            "videos": {"indexed": self.indexed, "failed": self.failed, "pending": self.pending},
            "failures": [{"path": f.path, "reason": f.reason} for f in self.failures],
            "skipped_plugins": [p.to_json() for p in self.skipped_plugins],
        }


@dataclass(frozen=True)
class StoredMoment:
    """A moment as stored: what an extractor found at a time in a video."""

    modality: str
    span: TimeSpan
    label: str
    text: str
    score: float
    extractor: str
    attrs: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "modality": self.modality,
            "start_s": self.span.start_s,
            "end_s": self.span.end_s,
            **({"text": self.text} if self.text else {"label": self.label}),
            "score": self.score,
            "extractor": self.extractor,
            **self.attrs,
        }


@dataclass(frozen=True)
class StoredVector:
    """A learned or text vector of a span, described (not listed): its kind, dimensions
    and the weights that made it."""

    kind: str
    span: TimeSpan
    dim: int
    model: str

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start_s": self.span.start_s,
            "end_s": self.span.end_s,
            "dim": self.dim,
            "model": self.model,
        }


@dataclass(frozen=True)
class VideoDetail:
    """One video: its stored row, where its file is, and what was found in it."""

    video: VideoRow
    paths: list[str]
    hashes: dict[str, str]
    thumbnails: list[TimeSpan]
    moments: list[StoredMoment]
    embeddings: list[StoredVector] = field(default_factory=list)
    # Bank matches recorded when the video was indexed (the `match --json` shape).
    matches: list[dict[str, Any]] = field(default_factory=list)
    # Policy verdicts kept for it, and what people decided (`review list --json` lines).
    review: list[dict[str, Any]] = field(default_factory=list)
    # What a person called it (None: no one did).
    title: str | None = None

    @property
    def name(self) -> str:
        """What it is called where it is shown: its title, else its file's name."""
        return shown_name(self.title, self.video.path)

    def to_json(self) -> dict[str, Any]:
        """The `show --json` document: the video's fields at the top, then the lists."""
        return {
            **video_json(self.video),
            "title": self.title,
            "paths": self.paths,
            "hashes": self.hashes,
            "extractors": dict(self.video.extractors),
            "thumbnails": [{"start_s": t.start_s, "end_s": t.end_s} for t in self.thumbnails],
            "moments": [m.to_json() for m in self.moments],
            "embeddings": [e.to_json() for e in self.embeddings],
            "matches": self.matches,
            "review": self.review,
        }


def video_json(video: VideoRow) -> dict[str, Any]:
    """A stored video's fields, as `show --json` starts and the API lists them."""
    return {k: v for k, v in asdict(video).items() if k != "extractors"}


@dataclass(frozen=True)
class VideoPage:
    """Some of the stored videos, by path: those from `offset`, `limit` at most."""

    videos: list[VideoRow]
    total: int
    offset: int
    limit: int

    def to_json(self) -> dict[str, Any]:
        return {
            "videos": [video_json(v) for v in self.videos],
            "total": self.total,
            "offset": self.offset,
            "limit": self.limit,
        }


def list_videos(library: Library, offset: int = 0, limit: int = 50) -> VideoPage:
    """The stored videos by path, a page at a time (not those a `block` verdict holds
    back): the page's ids from the shelf, then their rows (it read every video's row: 1.1
    s a page at 100,000 videos)."""
    ids, total = library.store.shelf().by_path(offset, limit)
    return VideoPage(library.store.videos_of(ids), total, offset, limit)


# The kinds of moment the library view filters by.
SHELF_KINDS: tuple[str, ...] = KINDS


@dataclass(frozen=True)
class ShelfPage:
    """A page of the library view: the videos on it, how many all its pages hold, how it
    was asked for, and the folders that hold listed videos (with how many each)."""

    videos: list[ShelfRow]
    total: int
    offset: int
    limit: int
    sort: str
    descending: bool
    folder: str
    kind: str
    folders: list[tuple[str, int]]
    month: str = ""
    # The months the videos' files are from (YYYY-MM), newest first, with how many each.
    months: list[tuple[str, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "videos": [
                {
                    "video_id": v.video_id,
                    "path": v.path,
                    "duration_s": v.duration_s,
                    "modified": v.modified,
                    "added_at": v.added_at,
                    "pictures": v.pictures,
                    "kinds": list(v.kinds),
                    "title": v.title,
                }
                for v in self.videos
            ],
            "total": self.total,
            "offset": self.offset,
            "limit": self.limit,
            "sort": self.sort,
            "order": "desc" if self.descending else "asc",
            "folder": self.folder,
            "kind": self.kind,
            "folders": [{"folder": f, "videos": n} for f, n in self.folders],
            "month": self.month,
            "months": [{"month": m, "videos": n} for m, n in self.months],
        }


def browse(  # noqa: PLR0917  a page and what it holds
    library: Library,
    sort: str = "added",
    descending: bool = True,
    folder: str = "",
    kind: str = "",
    offset: int = 0,
    limit: int = 60,
    month: str = "",
) -> ShelfPage:
    """A page of the library's videos as the library view lists them: sorted by when they
    were added, their files' dates, their names or their durations; those under `folder`,
    with moments of `kind` (speech, text, sound, nudity) and whose files are from `month`
    (YYYY-MM, local time) only when given; none a `block` verdict holds back. Read from
    the shelf (`store.shelf`), so a page costs the same however large the library.

    Raises:
        QueryError: a sort, kind or month that is not one.
    """
    if sort not in SORTS:
        raise QueryError(f"sort by one of {', '.join(SORTS)}, not {sort!r}")
    if kind and kind not in KINDS:
        raise QueryError(f"a kind of moment is one of {', '.join(KINDS)}, not {kind!r}")
    shelf = library.store.shelf()
    if month and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise QueryError(f"a month is written YYYY-MM, not {month!r}")
    rows, total = shelf.page(sort, descending, folder, kind, offset, limit, month)
    return ShelfPage(
        rows,
        total,
        offset,
        limit,
        sort,
        descending,
        folder,
        kind,
        shelf.folders(),
        month,
        shelf.months(),
    )


@dataclass(frozen=True)
class ForgottenVideo:
    """A video `forget` removed."""

    video_id: str
    path: str

    def to_json(self) -> dict[str, str]:
        return {"video_id": self.video_id, "path": self.path, "status": "forgotten"}


@dataclass(frozen=True)
class DoctorReport:
    """What `doctor` found: problems (the library disagrees with itself), the commands that
    fix them, and notices that need no fix (an indexed file moved away, say)."""

    problems: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": self.problems,
            "fixes": self.fixes,
            "notices": self.notices,
        }


def status(library: Library) -> LibraryStatus:
    """Counts of indexed videos, failed and pending files, and every failure's reason."""
    ledger = library.store.ledger
    failed = ledger.entries(FileStatus.FAILED)
    return LibraryStatus(
        indexed=len(library.store.video_ids()),
        failed=len(failed),
        pending=len(ledger.entries(FileStatus.PENDING)),
        failures=[FileFailure(shown_path(e.path), e.reason or "") for e in failed],
        skipped_plugins=library.skipped_plugins(),
    )


def show(library: Library, video: str) -> VideoDetail:
    """A video's stored info and every moment found in it, in time order.

    Raises:
        VideoNotFoundError: no video, or more than one, has that path or id.
    """
    store = library.store
    row = library.resolve(video)
    video_id = row.video_id
    hashes = {
        s.kind: s.value for s in store.rows_of(SignalRow, video_id) if s.kind in ("sha256", "md5")
    }
    vectors: list[EmbeddingRow | TextVectorRow] = [
        *store.rows_of(EmbeddingRow, video_id),
        *store.rows_of(TextVectorRow, video_id),
    ]
    return VideoDetail(
        video=row,
        paths=[shown_path(p) for p in store.ledger.paths_of(video_id)],
        hashes=hashes,
        thumbnails=[t.span for t in store.rows_of(ThumbnailRow, video_id)],
        moments=[
            StoredMoment(m.modality, m.span, m.label, m.text, m.score, m.extractor, m.attrs)
            for m in store.rows_of(MomentRow, video_id)
        ],
        embeddings=[StoredVector(e.kind, e.span, len(e.vector), e.model) for e in vectors],
        matches=store.banks.matches_of(video_id),
        review=[i.to_json() for i in store.moderation.items(video_id=video_id)],
        title=store.shelf().title(video_id),
    )


@dataclass(frozen=True)
class VideoTitle:
    """A video's title after `set_title` (None: it has none, its file's name is shown)."""

    video_id: str
    path: str
    title: str | None

    def to_json(self) -> dict[str, Any]:
        return {"video_id": self.video_id, "path": self.path, "title": self.title}


def title_of(library: Library, video: str) -> VideoTitle:
    """A video's title (None when no one gave it one).

    Raises:
        VideoNotFoundError: no video, or more than one, has that path or id.
    """
    row = library.resolve(video)
    return VideoTitle(row.video_id, row.path, library.store.shelf().title(row.video_id))


def titles(library: Library, video_ids: Sequence[str]) -> dict[str, str]:
    """The titles people gave these videos (those without one left out), read at once."""
    return library.store.shelf().titles(video_ids)


def set_title(library: Library, video: str, title: str, who: str = "") -> VideoTitle:
    """Give a video a title a person chose (blank: take its title away), shown in the
    library view and on its page, sorted by as its name, and found by the search. Kept when
    the video is indexed again or its file moves; the audit log says who set it.

    Raises:
        VideoNotFoundError: no video, or more than one, has that path or id.
        QueryError: the title is longer than `title_max_chars` or holds control characters.
    """
    row = library.resolve(video)
    # One line of text: runs of spaces (a pasted newline) made one.
    cleaned = " ".join(title.split())
    limit = library.settings.title_max_chars
    if len(cleaned) > limit:
        raise QueryError(
            f"a title is at most {limit} characters (title_max_chars), not {len(cleaned)}"
        )
    if any(not ch.isprintable() for ch in cleaned):
        raise QueryError("a title holds no control characters")
    shelf = library.store.shelf()
    before = shelf.title(row.video_id)
    if not shelf.set_title(row.video_id, cleaned or None):
        raise VideoNotFoundError(f"video {row.video_id} is not stored")
    if (cleaned or None) != before:
        detail = {"title": cleaned or None, "before": before}
        audit.record(library, "title", row.video_id, detail, who)
    return VideoTitle(row.video_id, row.path, cleaned or None)


def forget(library: Library, video: str) -> ForgottenVideo:
    """Remove a video and everything derived from it.

    Raises:
        VideoNotFoundError: no video, or more than one, has that path or id.
        LibraryLockedError: another process is writing to the library.
    """
    store = library.store
    with store.writing():
        row = library.resolve(video)
        store.delete_video(row.video_id)
        delete_playable(library, row.video_id)
        store.cleanup_versions(library.settings.keep_versions_s)
    return ForgottenVideo(row.video_id, row.path)


def doctor(library: Library, fix: bool = False) -> DoctorReport:
    """Check that the ledger and the tables agree; with `fix`, repair what can be.

    Nothing is deleted that might be wanted: with `fix`, derived rows without their video
    row go, and files whose video is missing, or videos no file refers to, are marked
    pending for the next `index`.
    """
    problems: list[str] = []
    fixes: list[str] = []
    store, ledger = library.store, library.store.ledger
    videos = store.video_ids()
    orphans = store.orphan_video_ids()
    if orphans:
        problems.append(f"{len(orphans)} video(s) have derived rows but no video row")
    stale = [e for e in ledger.entries(FileStatus.INDEXED) if e.video_id not in videos]
    if stale:
        problems.append(
            f"{len(stale)} file(s) are marked indexed but their video is missing: "
            + ", ".join(shown_path(e.path) for e in stale[:5])
        )
    referenced = {e.video_id for e in ledger.entries()}
    unledgered = sorted(videos - referenced)
    if unledgered:
        problems.append(f"{len(unledgered)} video(s) are stored but no file refers to them")
    # A file gone from disk is not an inconsistency: its video stays searchable until it
    # is forgotten or its file is indexed again where it now lives.
    gone = [e.path for e in ledger.entries(FileStatus.INDEXED) if not Path(e.path).exists()]
    notices = [str(p) for p in library.skipped_plugins()]
    if gone:
        notices.append(
            f"{len(gone)} indexed file(s) are no longer at their path (their videos are "
            "kept; `videolearn index` the new place or `videolearn forget` them): "
            + ", ".join(map(shown_path, gone[:5]))
        )
    ocr = library.settings.ocr
    reading = any(ex.name == "ocr" for ex in library.extractors)
    missing = missing_packs(ocr) if ocr.engine == "auto" and reading else {}
    if missing and engine_name(ocr) == "rapidocr":
        notices.append(
            "on-screen text is read by rapidocr alone, which drops spaces and accents in "
            f"Latin text and reads Cyrillic as Latin look-alikes: for Tesseract's "
            f"'{ocr.languages}' packs, apt-get install tesseract-ocr "
            f"{' '.join(missing.values())} (Debian)"
        )
    elif missing:
        notices.append(
            f"Tesseract lacks the pack(s) {', '.join(missing)} of ocr.languages: lines in "
            f"those scripts keep rapidocr's reading; apt-get install "
            f"{' '.join(missing.values())} (Debian)"
        )
    words = unused_map(library.settings)
    if words:
        notices.append(
            f"{words}: search finds no shot by its look until `videolearn learn --words` "
            "learns the map again (after `videolearn index` has embedded the shots with "
            "the weights there are now)"
        )
    pending = ledger.entries(FileStatus.PENDING)
    # A run going on holds the write lock: its files are pending and its newest rows not
    # yet in the indexes, as they should be.
    running = store.writer_busy()
    if pending and running:
        notices.append(
            f"{len(pending)} file(s) are being indexed by a run going on now: "
            + ", ".join(shown_path(e.path) for e in pending[:5])
        )
    elif pending:
        problems.append(
            f"{len(pending)} file(s) are not finished indexing (a run stopped): "
            + ", ".join(shown_path(e.path) for e in pending[:5])
        )
    unindexed = {} if running else store.unindexed_rows()
    if unindexed:
        problems.append(
            f"{sum(unindexed.values()):,} row(s) are not in their tables' indexes (a run "
            "stopped before folding them in; searches read them one by one): "
            + ", ".join(f"{name} {n:,}" for name, n in sorted(unindexed.items()))
        )
    # The audit log cannot be repaired, only reported: what was changed is gone.
    problems += [f"audit log: {p}" for p in store.moderation.verify()]
    repairable = bool(orphans or stale or unledgered or unindexed)
    if repairable:
        fixes.append("videolearn doctor --fix")
    if pending or stale or unledgered:
        fixes.append("videolearn index PATH... (the same paths as before) to finish")
    if fix and repairable:
        with store.writing():
            store.delete_orphans()
            for e in stale:
                ledger.set(
                    e.path,
                    FileStatus.PENDING,
                    video_id=e.video_id,
                    size_bytes=e.size_bytes,
                    mtime_ns=e.mtime_ns,
                )
            for video_id in unledgered:
                row = store.get_video(video_id)
                if row is not None:
                    ledger.set(row.path, FileStatus.PENDING, video_id=video_id)
            store.maintain(library.settings.vector_index_min_rows, library.settings.keep_versions_s)
        return doctor(library, fix=False)
    return DoctorReport(problems, fixes, notices)
