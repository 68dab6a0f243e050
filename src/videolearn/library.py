"""A library: index video files into it, ask what it holds, forget videos, check it.

This is the one place that ties ingest, extractors and the store together; the CLI, the
HTTP API and the web UI are thin adapters over it.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from videolearn.config import Settings, load_settings
from videolearn.errors import ExtractorError, MediaError, VideoNotFoundError
from videolearn.extractors.base import Extractor, Signal, ValueSignal, VideoContext
from videolearn.extractors.processes import ExtractorWorkers, open_extractor_workers
from videolearn.extractors.registry import available_extractors, order_by_needs
from videolearn.extractors.runner import decode_request, run_extractors
from videolearn.ingest.decode import DecodeReport, MediaChunk
from videolearn.ingest.scan import (
    FileIdentity,
    FoundFile,
    absolute_path,
    identify,
    iter_media_files,
    stat_file,
)
from videolearn.ingest.worker import DecodeProcess, open_decode
from videolearn.store.embedded import ExtractorOutput, LibraryStore, open_store, version_tag
from videolearn.store.ledger import FileEntry
from videolearn.types import Closing, MediaInfo, TimeSpan


@dataclass(frozen=True)
class IndexResult:
    """What happened to one file in an index run."""

    path: str
    video_id: str | None
    status: str  # "indexed" | "unchanged" | "failed"
    reason: str | None = None


@dataclass(frozen=True)
class RematchResult:
    """Stored videos matched again against changed banks, and the matches they have now."""

    videos: int
    matches: int


@dataclass(frozen=True)
class LibraryStatus:
    indexed: int
    failed: int
    pending: int
    failures: list[dict[str, str]]


@dataclass(frozen=True)
class StoredMoment:
    """A moment as stored: what an extractor found at a time in a video."""

    modality: str
    span: TimeSpan
    label: str
    text: str
    score: float
    extractor: str
    attrs: dict[str, Any]

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
class VideoDetail:
    """One video: its stored row (`info`), where its file is, and what was found in it."""

    info: dict[str, Any]
    paths: list[str]
    hashes: dict[str, str]
    extractors: dict[str, int | str]
    thumbnails: list[TimeSpan]
    moments: list[StoredMoment]
    # Learned vectors per span, described (kind, span, dimensions, weights), not listed.
    embeddings: list[dict[str, Any]] = field(default_factory=list)
    # Bank matches recorded when the video was indexed (the `match --json` shape).
    matches: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The `show --json` document: the video's fields at the top, then the lists."""
        return {
            **self.info,
            "paths": self.paths,
            "hashes": self.hashes,
            "extractors": self.extractors,
            "thumbnails": [{"start_s": t.start_s, "end_s": t.end_s} for t in self.thumbnails],
            "moments": [m.to_json() for m in self.moments],
            "embeddings": self.embeddings,
            "matches": self.matches,
        }


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


class IndexProgress(Protocol):
    """Receives progress from `Library.index`; every method is optional to act on."""

    def file_started(self, path: Path, number: int, total: int) -> None: ...
    def media_progress(self, reached_s: float, duration_s: float) -> None: ...
    def file_done(self, result: IndexResult) -> None: ...


class _Silent:
    def file_started(self, path: Path, number: int, total: int) -> None:
        pass

    def media_progress(self, reached_s: float, duration_s: float) -> None:
        pass

    def file_done(self, result: IndexResult) -> None:
        pass


@dataclass(frozen=True)
class _Started:
    """A file after `_start`: either its result already, or a running decode."""

    result: IndexResult | None
    identity: FileIdentity | None = None
    previous: FileEntry | None = None
    decode: DecodeProcess | None = None

    @property
    def decoding(self) -> bool:
        return self.decode is not None


class Library(Closing):
    """An opened library. Use `open_library`; close it (or use `with`) when done."""

    def __init__(self, settings: Settings, create: bool) -> None:
        self.settings = settings
        self.store: LibraryStore = open_store(settings.library, create=create)
        self._extractors: list[Extractor] | None = None
        self._matcher: Any = None

    def close(self) -> None:
        self.store.close()

    # -- indexing -------------------------------------------------------------------------

    @property
    def extractors(self) -> list[Extractor]:
        """The enabled extractors, constructed once, in dependency order."""
        if self._extractors is None:
            classes = available_extractors()
            wanted = self.settings.extractors
            if wanted is not None:
                unknown = sorted(set(wanted) - set(classes))
                if unknown:
                    raise ExtractorError(
                        f"unknown extractor(s) in settings: {', '.join(unknown)}; "
                        f"available: {', '.join(classes)}"
                    )
                classes = {n: c for n, c in classes.items() if n in wanted}
                order_by_needs(list(classes.values()))  # raises when a need is left out
            else:
                classes = {n: c for n, c in classes.items() if c.configured(self.settings)}
            self._extractors = [cls(self.settings) for cls in classes.values()]
        return self._extractors

    def extractor_versions(self) -> dict[str, int | str]:
        return {ex.name: version_tag(ex.version, ex.revision) for ex in self.extractors}

    def index(
        self, paths: Iterable[Path | str], progress: IndexProgress | None = None
    ) -> list[IndexResult]:
        """Add or refresh the media files under `paths`. Resumable; one writer at a time.

        A file that cannot be indexed gets a reason in the ledger and the run goes on.
        Up to `decode.parallel_files` files decode at once, each in its own child
        process, while the extractors work through them in order.
        """
        progress = progress or _Silent()
        found = list(iter_media_files(Path(p) for p in paths))
        results: list[IndexResult] = []
        with self.store.writing(), ExitStack() as stack:
            run_id = self.store.ledger.start_run()
            loaded: list[ExtractorWorkers | None] = []

            def ready() -> ExtractorWorkers | None:
                # Models load when the first file needs them, while it decodes: a run that
                # finds every file unchanged loads none.
                if not loaded:
                    workers = None
                    if self.settings.workers.processes:
                        workers = stack.enter_context(
                            open_extractor_workers(self.extractors, self.settings)
                        )
                    for ex in self.extractors:
                        if workers is None or ex.name not in workers.names:
                            ex.load()
                    loaded.append(workers)
                return loaded[0]

            # Started files in order; up to `parallel_files` of them decoding at once.
            window: deque[_Started] = deque()
            next_index = 0

            def top_up() -> None:
                nonlocal next_index
                limit = self.settings.decode.parallel_files
                while next_index < len(found) and sum(s.decoding for s in window) < limit:
                    window.append(self._start(found[next_index]))
                    next_index += 1

            try:
                for number, item in enumerate(found, start=1):
                    top_up()
                    started = window.popleft()
                    progress.file_started(item.path, number, len(found))
                    result = started.result or self._finish(started, progress, top_up, ready())
                    results.append(result)
                    progress.file_done(result)
            finally:
                for started in window:
                    if started.decode is not None:
                        started.decode.close()
            counts = {
                s: sum(r.status == s for r in results) for s in ("indexed", "unchanged", "failed")
            }
            self.store.ledger.finish_run(run_id, **counts)
            self.rematch()  # unchanged files, when the banks changed since their last run
            self.store.ensure_text_index()
            self.store.ensure_scalar_indexes()
            self.store.ensure_vector_index(self.settings.vector_index_min_rows)
            self.store.cleanup_versions(self.settings.keep_versions_s)
        return results

    def _start(self, item: FoundFile) -> _Started:
        """Decide what a file needs; when it needs decoding, start the decode."""
        key = str(item.path)
        if item.problem:
            self.store.ledger.set(key, "failed", reason=item.problem)
            return _Started(IndexResult(key, None, "failed", item.problem))
        ledger = self.store.ledger
        previous = ledger.get(key)
        versions = self.extractor_versions()
        try:
            st = stat_file(item.path, self.settings.decode.max_file_size_bytes)
            if (
                previous is not None
                and previous.status == "indexed"
                and previous.video_id
                and previous.size_bytes == st.st_size
                and previous.mtime_ns == st.st_mtime_ns
                and self._is_current(previous.video_id, versions)
            ):
                return _Started(IndexResult(key, previous.video_id, "unchanged"))
            identity = identify(item.path, self.settings.decode.max_file_size_bytes)
        except MediaError as err:
            ledger.set(key, "failed", reason=err.reason)
            return _Started(IndexResult(key, None, "failed", err.reason))
        video_id = identity.sha256
        if self._is_current(video_id, versions):
            # Same content seen before (moved, renamed, copied or touched).
            self.store.set_path(video_id, key)
            self._mark(identity, "indexed")
            self._drop_if_unreferenced(previous, video_id)
            return _Started(IndexResult(key, video_id, "unchanged"))
        self._mark(identity, "pending")
        request = decode_request(self.extractors)
        try:
            decode = open_decode(identity.path, request, self.settings.decode)
        except MediaError as err:
            self._mark(identity, "failed", err.reason)
            return _Started(IndexResult(key, video_id, "failed", err.reason))
        return _Started(None, identity, previous, decode)

    def _finish(
        self,
        started: _Started,
        progress: IndexProgress,
        after_decode: Callable[[], None],
        workers: ExtractorWorkers | None,
    ) -> IndexResult:
        """Run the extractors over a started decode and store what they found."""
        identity, decode = started.identity, started.decode
        assert identity is not None and decode is not None
        key, video_id = str(identity.path), identity.sha256
        extractors = self.extractors
        info = decode.info
        video = VideoContext(video_id, identity.path, info, identity)

        def chunks() -> Iterator[MediaChunk]:
            yield from decode
            after_decode()

        def on_progress(reached_s: float) -> None:
            progress.media_progress(reached_s, info.duration_s)

        try:
            with decode:
                signals = run_extractors(extractors, video, chunks(), on_progress, workers)
        except (MediaError, ExtractorError) as err:
            reason = err.reason if isinstance(err, MediaError) else str(err)
            self._mark(identity, "failed", reason)
            return IndexResult(key, video_id, "failed", reason)
        assert decode.report is not None
        outputs = [
            ExtractorOutput(ex.name, ex.version, signals[ex.name], ex.revision) for ex in extractors
        ]
        self.store.write_video(_video_row(identity, info, decode.report), outputs)
        self._record_matches(identity.sha256, str(identity.path), identity.md5, signals)
        self._mark(identity, "indexed")
        self._drop_if_unreferenced(started.previous, video_id)
        return IndexResult(key, video_id, "indexed")

    def _record_matches(
        self, video_id: str, path: str, md5: str, signals: Mapping[str, Sequence[Signal]]
    ) -> list[Any]:
        """Match a video's hashes against every bank and record what matched."""
        banks = self.store.banks
        generation = banks.generation()
        if not banks.has_entries():
            banks.record_matches(video_id, [], generation)
            return []
        from videolearn.apps.matching import Matcher, hashes_of

        if self._matcher is None:
            self._matcher = Matcher(banks, self.settings.match)
        found: list[Any] = self._matcher.match(path, hashes_of(md5, signals))
        banks.record_matches(
            video_id,
            [(m.entry_id, m.signal_type, json.dumps(m.to_json())) for m in found],
            generation,
        )
        return found

    def rematch(self) -> RematchResult:
        """Match the stored videos again whose matches predate the banks' last change,
        from their stored hashes (no decoding). `index` and `bank add`/`import` call it."""
        banks = self.store.banks
        generation = banks.generation()
        done = banks.matched_generations()
        videos = matches = 0
        for row in self.store.videos():
            video_id = row["video_id"]
            if done.get(video_id) == generation:
                continue
            signals: dict[str, list[Signal]] = {}
            md5 = ""
            for sig in self.store.rows_for("signals", video_id):
                if sig["kind"] == "md5":
                    md5 = sig["value"]
                span = TimeSpan(sig["start_s"], sig["end_s"])
                signals.setdefault(sig["extractor"], []).append(
                    ValueSignal(span, sig["kind"], sig["value"])
                )
            matches += len(self._record_matches(video_id, row["path"] or "", md5, signals))
            videos += 1
        return RematchResult(videos, matches)

    def _mark(self, identity: FileIdentity, status: str, reason: str | None = None) -> None:
        self.store.ledger.set(
            str(identity.path),
            status,
            video_id=identity.sha256,
            size_bytes=identity.size_bytes,
            mtime_ns=identity.mtime_ns,
            reason=reason,
        )

    def _is_current(self, video_id: str, versions: dict[str, int | str]) -> bool:
        row = self.store.get_video(video_id)
        return row is not None and json.loads(row["extractors"] or "{}") == versions

    def _drop_if_unreferenced(self, previous: FileEntry | None, new_video_id: str) -> None:
        # The path held other content before: that old video is gone unless another path
        # still refers to it.
        if previous is None or not previous.video_id or previous.video_id == new_video_id:
            return
        if not [p for p in self.store.ledger.paths_of(previous.video_id) if p != previous.path]:
            self.store.delete_video(previous.video_id)

    # -- reading --------------------------------------------------------------------------

    def status(self) -> LibraryStatus:
        """Counts of indexed videos, failed and pending files, and every failure's reason."""
        ledger = self.store.ledger
        failed = ledger.entries("failed")
        return LibraryStatus(
            indexed=len(self.store.video_ids()),
            failed=len(failed),
            pending=len(ledger.entries("pending")),
            failures=[{"path": e.path, "reason": e.reason or ""} for e in failed],
        )

    def resolve(self, video: str) -> dict[str, Any]:
        """The video row for a path or a video id (or a unique prefix of one of 6+ chars).

        Raises:
            VideoNotFoundError: nothing, or more than one video, matches.
        """
        row = self.store.find_by_path(str(absolute_path(video)))
        if row is not None:
            return row
        matches = self.store.find_by_id_prefix(video.lower())
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise VideoNotFoundError(
                f"{video!r} matches {len(matches)} videos; give more of the id"
            )
        raise VideoNotFoundError(f"no indexed video has the path or id {video!r}")

    def show(self, video: str) -> VideoDetail:
        """A video's stored info and every moment found in it, in time order."""
        row = self.resolve(video)
        video_id = row["video_id"]
        hashes = {
            s["kind"]: s["value"]
            for s in self.store.rows_for("signals", video_id)
            if s["kind"] in ("sha256", "md5")
        }
        return VideoDetail(
            info={k: v for k, v in row.items() if k != "extractors"},
            paths=self.store.ledger.paths_of(video_id),
            hashes=hashes,
            extractors=json.loads(row["extractors"] or "{}"),
            thumbnails=[
                TimeSpan(t["start_s"], t["end_s"])
                for t in self.store.rows_for("thumbnails", video_id)
            ],
            moments=[
                StoredMoment(
                    m["modality"],
                    TimeSpan(m["start_s"], m["end_s"]),
                    m["label"],
                    m["text"],
                    float(m["score"]),
                    m["extractor"],
                    json.loads(m["attrs"] or "{}"),
                )
                for m in self.store.rows_for("moments", video_id)
            ],
            embeddings=[
                {
                    "kind": e["kind"],
                    "start_s": e["start_s"],
                    "end_s": e["end_s"],
                    "dim": len(e["vector"]),
                    "model": e["model"],
                }
                for table in ("embeddings", "text_vectors")
                for e in self.store.rows_for(table, video_id)
            ],
            matches=self.store.banks.matches_of(video_id),
        )

    # -- removing and checking ------------------------------------------------------------

    def forget(self, video: str) -> dict[str, Any]:
        """Remove a video and everything derived from it. Returns the row it removed."""
        with self.store.writing():
            row = self.resolve(video)
            self.store.delete_video(row["video_id"])
            self.store.cleanup_versions(self.settings.keep_versions_s)
        return row

    def doctor(self, fix: bool = False) -> DoctorReport:
        """Check that the ledger and the tables agree; with `fix`, repair what can be."""
        problems: list[str] = []
        fixes: list[str] = []
        store, ledger = self.store, self.store.ledger
        videos = store.video_ids()
        orphans = store.orphan_video_ids()
        if orphans:
            problems.append(f"{len(orphans)} video(s) have derived rows but no video row")
        stale = [e for e in ledger.entries("indexed") if e.video_id not in videos]
        if stale:
            problems.append(
                f"{len(stale)} file(s) are marked indexed but their video is missing: "
                + ", ".join(e.path for e in stale[:5])
            )
        referenced = {e.video_id for e in ledger.entries()}
        unledgered = sorted(videos - referenced)
        if unledgered:
            problems.append(f"{len(unledgered)} video(s) are stored but no file refers to them")
        # A file gone from disk is not an inconsistency: its video stays searchable until
        # it is forgotten or its file is indexed again where it now lives.
        gone = [e.path for e in ledger.entries("indexed") if not Path(e.path).exists()]
        notices = []
        if gone:
            notices.append(
                f"{len(gone)} indexed file(s) are no longer at their path (their videos are "
                "kept; `videolearn index` the new place or `videolearn forget` them): "
                + ", ".join(gone[:5])
            )
        pending = ledger.entries("pending")
        if pending:
            problems.append(
                f"{len(pending)} file(s) are not finished indexing (a run stopped): "
                + ", ".join(e.path for e in pending[:5])
            )
        repairable = bool(orphans or stale or unledgered)
        if repairable:
            fixes.append("videolearn doctor --fix")
        if pending or stale or unledgered:
            fixes.append("videolearn index PATH... (the same paths as before) to finish")
        if fix and repairable:
            with store.writing():
                store.delete_orphans()
                # Nothing is deleted that might be wanted: files whose rows are missing or
                # that no file refers to are marked pending for the next `index`.
                for e in stale:
                    ledger.set(
                        e.path,
                        "pending",
                        video_id=e.video_id,
                        size_bytes=e.size_bytes,
                        mtime_ns=e.mtime_ns,
                    )
                for video_id in unledgered:
                    row = store.get_video(video_id)
                    if row is not None:
                        ledger.set(row["path"], "pending", video_id=video_id)
                store.cleanup_versions(self.settings.keep_versions_s)
            return self.doctor(fix=False)
        return DoctorReport(problems, fixes, notices)


def _quote(path: str) -> str:
    return "'" + path.replace("'", "'\\''") + "'"


def _video_row(identity: FileIdentity, info: MediaInfo, report: DecodeReport) -> dict[str, Any]:
    size = report.display_size_px or (
        (info.video.width_px, info.video.height_px) if info.video else None
    )
    duration_s = info.duration_s if info.duration_s > 0 else report.decoded_end_s
    return {
        "video_id": identity.sha256,
        "path": str(identity.path),
        "size_bytes": identity.size_bytes,
        "duration_s": duration_s,
        "container": info.container,
        "width_px": size[0] if size else None,
        "height_px": size[1] if size else None,
        "rotation_deg": report.rotation_deg if info.video else None,
        "fps": info.video.average_fps if info.video else None,
        "video_codec": info.video.codec if info.video else None,
        "audio_codec": info.audio.codec if info.audio else None,
        "audio_sample_rate_hz": info.audio.sample_rate_hz if info.audio else None,
        "frames_decoded": report.video_frames,
        "corrupt_packets": report.corrupt_packets,
    }


def open_library(
    library: Path | str | None = None, create: bool = False, settings: Settings | None = None
) -> Library:
    """Open a library directory (`$VIDEOLEARN_LIBRARY` or `./videolearn-library` by default).

    Args:
        library: the directory; ignored when `settings` is given.
        create: make the library when it does not exist.
        settings: settings to use instead of loading them.

    Raises:
        LibraryNotFoundError: not a library and `create` is False.
    """
    return Library(settings or load_settings(library), create=create)


__all__: Sequence[str] = [
    "DoctorReport",
    "IndexResult",
    "Library",
    "LibraryStatus",
    "StoredMoment",
    "VideoDetail",
    "open_library",
]
