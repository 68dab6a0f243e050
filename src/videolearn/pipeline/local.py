"""The index pipeline on one machine: which files need work, decoding ahead, extractors in
worker processes, writes through the store, then the hooks.

A walk of one file, all of it here and below: the scan finds it (`ingest.scan`); the ledger
says whether its size and modification time changed; it is read once for its sha256 (its
id); content already stored under another path is recorded at the new path without
decoding, and content stored by extractors some of which have changed since runs only
those (`_behind`); otherwise its decode starts in a limited child process (`extractors.runner`,
`ingest.worker`) while earlier files are still being worked on, up to
`decode.parallel_files` at once; the extractors run on its chunks as they arrive, those of
a model family in that family's worker process (`pipeline.workers`); the store writes its
rows (derived rows first, the video row last); the hooks are told (`pipeline.hooks`:
matching against the banks); the ledger marks it indexed. `_FileStates` is the one place
that writes a file's ledger state.
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from videolearn.config import Settings
from videolearn.errors import ExtractorError, MediaError, StoreWriteError
from videolearn.extractors.base import Extractor, Signal, VideoContext
from videolearn.extractors.runner import open_extractor_decode, run_extractors
from videolearn.ingest.decode import DecodeReport, MediaChunk
from videolearn.ingest.scan import (
    FileIdentity,
    FoundFile,
    changed_since,
    identify,
    iter_media_files,
    stat_file,
)
from videolearn.ingest.worker import DecodeProcess
from videolearn.pipeline.hooks import HookFactory, IndexHook, StoredVideo, reporting_after_run
from videolearn.pipeline.types import IndexProgress, IndexResult, IndexStatus, Silent
from videolearn.pipeline.workers import ExtractorWorkers, open_extractor_workers
from videolearn.store import ExtractorOutput, Store, version_tag
from videolearn.store.ledger import FileEntry, FileStatus, Ledger
from videolearn.store.tables import VideoRow
from videolearn.types import MediaInfo, shown_path

# Where in its Rust source Lance raised: ", /root/.cargo/.../commit.rs:1663:50".
_SOURCE_PLACE = re.compile(r",?\s*/\S+\.rs:\d+:\d+")


class _FileStates:
    """The one writer of files' ledger state during a run; each call returns the file's
    result when it is one."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def failed(self, path: str, reason: str, identity: FileIdentity | None = None) -> IndexResult:
        self._set(path, FileStatus.FAILED, identity, reason)
        return IndexResult(path, identity.sha256 if identity else None, IndexStatus.FAILED, reason)

    def pending(self, identity: FileIdentity) -> None:
        self._set(str(identity.path), FileStatus.PENDING, identity)

    def indexed(
        self,
        identity: FileIdentity,
        status: IndexStatus,
        ran_again: Iterable[str] = (),
        dropped: Iterable[str] = (),
    ) -> IndexResult:
        self._set(str(identity.path), FileStatus.INDEXED, identity)
        return IndexResult(
            str(identity.path),
            identity.sha256,
            status,
            ran_again=tuple(sorted(ran_again)),
            dropped=tuple(sorted(dropped)),
        )

    def _set(
        self,
        path: str,
        status: FileStatus,
        identity: FileIdentity | None,
        reason: str | None = None,
    ) -> None:
        if identity is None:
            self.ledger.set(path, status, reason=reason)
            return
        self.ledger.set(
            path,
            status,
            video_id=identity.sha256,
            size_bytes=identity.size_bytes,
            mtime_ns=identity.mtime_ns,
            reason=reason,
        )


@dataclass(frozen=True)
class Started:
    """A file after `_start`: either its result already, or a running decode."""

    result: IndexResult | None
    identity: FileIdentity | None = None
    previous: FileEntry | None = None
    decode: DecodeProcess | None = None
    # A stored video whose other extractors' output is current: the extractors to run
    # again, and those whose rows go (None: a new video, every extractor runs).
    rerun: frozenset[str] | None = None
    dropped: frozenset[str] = frozenset()

    @property
    def decoding(self) -> bool:
        return self.decode is not None


class LocalPipeline:
    """Indexes files into a store on this machine. Build one per run (`open_pipeline`)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        extractors: Sequence[Extractor],
        hooks: Sequence[HookFactory] = (),
    ) -> None:
        self.store = store
        self.settings = settings
        self.extractors = list(extractors)
        self.hook_factories = list(hooks)
        self.versions = {ex.name: version_tag(ex.version, ex.revision) for ex in extractors}
        self.files = _FileStates(store.ledger)
        self._written = 0  # videos stored by this pipeline, for `maintain_every`

    def index(
        self, paths: Iterable[Path | str], progress: IndexProgress | None = None
    ) -> list[IndexResult]:
        """Add or refresh the media files under `paths`. Resumable; one writer at a time.

        A file that cannot be indexed gets a reason in the ledger and the run goes on.
        Up to `decode.parallel_files` files decode at once, each in its own child
        process, while the extractors work through them in order.

        Raises:
            LibraryLockedError: another process is writing to the library.
        """
        progress = progress or Silent()
        found = list(
            iter_media_files((Path(p) for p in paths), self.settings.decode.follow_links_out)
        )
        results: list[IndexResult] = []
        with self.store.writing(), ExitStack() as stack:
            run_id = self.store.ledger.start_run()
            hooks: list[IndexHook] = [
                make(self.store, self.settings) for make in self.hook_factories
            ]
            self._work(found, hooks, progress, results, stack)
            counts = {s.value: sum(r.status == s for r in results) for s in IndexStatus}
            self.store.ledger.finish_run(run_id, **counts)
            with reporting_after_run(getattr(progress, "after_run", None)):
                for hook in hooks:
                    hook.run_finished()
            self._maintain(run_over=True)
        return results

    def _work(
        self,
        found: Sequence[FoundFile],
        hooks: Sequence[IndexHook],
        progress: IndexProgress,
        results: list[IndexResult],
        stack: ExitStack,
    ) -> None:
        """Index `found` in order into `results` (the run's frame is `index`'s, shared by
        every engine): decoding ahead, the extractors in this machine's processes."""
        workers: list[ExtractorWorkers] = []
        loaded: set[str] = set()

        def ready(started: Started) -> ExtractorWorkers | None:
            # Models load when the first file needs them, while it decodes: a run that
            # finds every file unchanged loads none, and one that runs a few extractors
            # again (a new version) loads only theirs (the families' worker processes
            # start, all of them, once a file needs one).
            running = self._running(started)
            if self.settings.workers.processes and not workers and any(e.family for e in running):
                workers.append(
                    stack.enter_context(open_extractor_workers(self.extractors, self.settings))
                )
            remote = workers[0].names if workers else frozenset()
            for ex in running:
                if ex.name not in loaded and ex.name not in remote:
                    ex.load()
                    loaded.add(ex.name)
            return workers[0] if workers else None

        # Started files in order; up to `parallel_files` of them decoding at once.
        window: deque[Started] = deque()
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
                result = started.result or self._finish(
                    started, progress, top_up, ready(started), hooks
                )
                results.append(result)
                progress.file_done(result)
        finally:
            for started in window:
                if started.decode is not None:
                    started.decode.close()

    def _maintain(self, *, run_over: bool) -> None:
        self.store.maintain(
            self.settings.vector_index_min_rows,
            self.settings.keep_versions_s,
            run_over=run_over,
            drop_every_s=self.settings.drop_versions_every_s,
        )

    def _start(self, item: FoundFile) -> Started:
        """Decide what a file needs; when it needs decoding, start the decode."""
        started = self._decide(item)
        if started.result is not None:
            return started
        assert started.identity is not None
        try:
            decode = open_extractor_decode(
                started.identity.path, self._running(started), self.settings.decode
            )
        except MediaError as err:
            key = str(started.identity.path)
            return Started(self.files.failed(key, err.reason, started.identity))
        return dataclasses.replace(started, decode=decode)

    def _running(self, started: Started) -> list[Extractor]:
        """The extractors a started file runs, in dependency order."""
        rerun = started.rerun
        return [ex for ex in self.extractors if rerun is None or ex.name in rerun]

    def _decide(self, item: FoundFile) -> Started:
        """What a file needs: its result already (failed, unchanged, or the same content
        as a stored video), or extracting (its identity, marked pending)."""
        key = str(item.path)
        if item.problem:
            return Started(self.files.failed(key, item.problem))
        previous = self.store.ledger.get(key)
        limit = self.settings.decode.max_file_size_bytes
        try:
            st = stat_file(item.path, limit)
            if (
                previous is not None
                and previous.status == FileStatus.INDEXED
                and previous.video_id
                and previous.size_bytes == st.st_size
                and previous.mtime_ns == st.st_mtime_ns
                and self._behind(previous.video_id) == (frozenset(), frozenset())
            ):
                return Started(IndexResult(key, previous.video_id, IndexStatus.UNCHANGED))
            identity = identify(item.path, limit)
        except MediaError as err:
            return Started(self.files.failed(key, err.reason))
        behind = self._behind(identity.sha256)
        if behind is None:
            self.files.pending(identity)
            return Started(None, identity, previous)
        # Content stored before (perhaps moved, renamed, copied or touched).
        self._show_under(identity.sha256, key)
        rerun, dropped = behind
        if rerun:
            self.files.pending(identity)
            return Started(None, identity, previous, rerun=rerun, dropped=dropped)
        if dropped:  # extractors no longer enabled: their rows go, nothing to run
            self._write(key, lambda: self.store.replace_outputs(identity.sha256, [], dropped))
        status = IndexStatus.INDEXED if dropped else IndexStatus.UNCHANGED
        result = self.files.indexed(identity, status, dropped=dropped)
        self._drop_if_unreferenced(previous, identity.sha256)
        return Started(result)

    def _finish(
        self,
        started: Started,
        progress: IndexProgress,
        after_decode: Callable[[], None],
        workers: ExtractorWorkers | None,
        hooks: Sequence[IndexHook],
    ) -> IndexResult:
        """Run the extractors over a started decode, store what they found, tell the
        hooks."""
        identity, decode = started.identity, started.decode
        assert identity is not None and decode is not None

        def on_progress(reached_s: float) -> None:
            progress.media_progress(reached_s, decode.info.duration_s)

        try:
            row, outputs = extract(
                decode, identity, self._running(started), on_progress, workers, after_decode
            )
        except (MediaError, ExtractorError) as err:
            reason = err.reason if isinstance(err, MediaError) else str(err)
            return self.files.failed(str(identity.path), reason, identity)
        return self._store(started, row, outputs, hooks)

    def _store(
        self,
        started: Started,
        row: VideoRow,
        outputs: Sequence[ExtractorOutput],
        hooks: Sequence[IndexHook],
    ) -> IndexResult:
        """Write what the extractors found, tell the hooks, mark the file indexed."""
        identity = started.identity
        assert identity is not None
        key, video_id = str(identity.path), identity.sha256
        # A file written to while it was read (a camera still copying it) would be stored
        # from a part: it fails, and the next run reads it whole.
        changed = changed_since(identity)
        if changed:
            return self.files.failed(key, changed, identity)
        if started.rerun is None:
            self._write(key, lambda: self.store.write_video(row, outputs))
        else:  # the stored row and the other extractors' rows stay
            self._write(key, lambda: self.store.replace_outputs(video_id, outputs, started.dropped))
        self._written += 1
        if self._written % self.settings.maintain_every == 0:
            self._maintain(run_over=False)
        signals = {o.name: o.signals for o in outputs}
        stored = StoredVideo(
            video_id, key, identity.md5, signals, partial=started.rerun is not None
        )
        for hook in hooks:
            try:
                hook.video_stored(stored)
            except Exception as err:  # the video is stored; the hook catches up next run
                reason = f"{hook.name} failed after storing: {type(err).__name__}: {err}"
                return self.files.failed(key, reason, identity)
        result = self.files.indexed(
            identity, IndexStatus.INDEXED, started.rerun or (), started.dropped
        )
        self._drop_if_unreferenced(started.previous, video_id)
        return result

    def _behind(self, video_id: str) -> tuple[frozenset[str], frozenset[str]] | None:
        """For a stored video (None when it is not), the extractors to run again and
        those whose rows go. To run: those whose version or revision differs from what
        made its rows, or that were not enabled then, with every extractor that needs or
        reads one of them (its output follows theirs) and every extractor those need or
        read (its signals are handed over in the run). To go: those no longer enabled."""
        row = self.store.get_video(video_id)
        if row is None:
            return None
        run = {name for name, tag in self.versions.items() if row.extractors.get(name) != tag}
        grew = bool(run)
        while grew:
            grew = False
            for ex in self.extractors:
                inputs = {*ex.needs, *ex.reads} & self.versions.keys()
                more = inputs - run if ex.name in run else {ex.name} if inputs & run else set()
                if more:
                    run |= more
                    grew = True
        return frozenset(run), frozenset(set(row.extractors) - self.versions.keys())

    def _write(self, key: str, write: Callable[[], None]) -> None:
        """Run a write to the store; a failure stops the run (StoreWriteError)."""
        try:
            write()
        # Lance's I/O errors come as RuntimeErrors; SQLite's (the ledger's, the shelf's:
        # "database or disk is full") as sqlite3 errors.
        except (OSError, RuntimeError, sqlite3.OperationalError) as err:
            raise StoreWriteError(
                f"stopped: {shown_path(key)} could not be written to the library "
                f"({_first_line(err)}); everything stored before it is intact, and the next "
                "run goes on from this file"
            ) from None

    def _show_under(self, video_id: str, key: str) -> None:
        """A stored video's content found at `key`: a copy adds a path (in the ledger,
        where every path of a video is kept) and the video is still shown under the one
        it had while that file is there, indexed and unchanged; a move or a rename shows
        it under `key`."""
        row = self.store.get_video(video_id)
        if row is None or row.path == shown_path(key):
            return
        for path in self.store.ledger.paths_of(video_id):
            entry = self.store.ledger.get(path)
            if shown_path(path) != row.path or entry is None:
                continue
            try:
                st = Path(path).stat()
            except OSError:
                break
            unchanged = (st.st_size, st.st_mtime_ns) == (entry.size_bytes, entry.mtime_ns)
            if entry.status == FileStatus.INDEXED and unchanged:
                return
        self.store.set_path(video_id, shown_path(key))

    def _drop_if_unreferenced(self, previous: FileEntry | None, new_video_id: str) -> None:
        # The path held other content before: that old video is gone unless another path
        # still refers to it.
        if previous is None or not previous.video_id or previous.video_id == new_video_id:
            return
        if not [p for p in self.store.ledger.paths_of(previous.video_id) if p != previous.path]:
            self.store.delete_video(previous.video_id)


def extract(  # noqa: PLR0917  a decode and what to run over it
    decode: DecodeProcess,
    identity: FileIdentity,
    extractors: Sequence[Extractor],
    on_progress: Callable[[float], None] | None = None,
    workers: ExtractorWorkers | None = None,
    after_decode: Callable[[], None] | None = None,
    *,
    given: Mapping[str, Sequence[Signal]] | None = None,
) -> tuple[VideoRow, list[ExtractorOutput]]:
    """Run `extractors` over a started decode (closed after): the video's row and their
    outputs. Every engine extracts a file with this; `given`: signals found elsewhere
    (`run_extractors`).

    Raises:
        MediaError: the file could not be decoded.
        ExtractorError: an extractor failed on it.
    """
    video = VideoContext(identity.sha256, identity.path, decode.info, identity)

    def chunks() -> Iterator[MediaChunk]:
        yield from decode
        if after_decode is not None:
            after_decode()

    with decode:
        signals = run_extractors(extractors, video, chunks(), on_progress, workers, given=given)
    assert decode.report is not None
    outputs = [
        ExtractorOutput(ex.name, ex.version, signals[ex.name], ex.revision) for ex in extractors
    ]
    return video_row(identity, decode.info, decode.report), outputs


def _first_line(err: BaseException) -> str:
    """An error's first line without the source location Lance appends to it."""
    lines = str(err).strip().splitlines()
    line = _SOURCE_PLACE.sub("", lines[0] if lines else type(err).__name__)
    return line[:300]


def video_row(identity: FileIdentity, info: MediaInfo, report: DecodeReport) -> VideoRow:
    """A video's row in the `videos` table, from its identity, probe and decode."""
    size = report.display_size_px or (
        (info.video.width_px, info.video.height_px) if info.video else None
    )
    duration_s = info.duration_s if info.duration_s > 0 else report.decoded_end_s
    return VideoRow(
        video_id=identity.sha256,
        path=shown_path(identity.path),
        size_bytes=identity.size_bytes,
        duration_s=duration_s,
        container=info.container,
        width_px=size[0] if size else None,
        height_px=size[1] if size else None,
        rotation_deg=report.rotation_deg if info.video else None,
        fps=info.video.average_fps if info.video else None,
        video_codec=info.video.codec if info.video else None,
        audio_codec=info.audio.codec if info.audio else None,
        audio_sample_rate_hz=info.audio.sample_rate_hz if info.audio else None,
        frames_decoded=report.video_frames,
        corrupt_packets=report.corrupt_packets,
    )
