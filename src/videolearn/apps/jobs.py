"""Index jobs started from the server: on paths inside the allowed folders, or on an
uploaded file, run one at a time in a thread beside the requests, with their progress.

A job is `Library.index` with a progress receiver that records where it is; its results
are the ledger's as always, so a server stopped mid-job loses nothing that the next
`index` of the same paths will not finish. Jobs live as long as the server (the ledger
keeps every file's outcome).

Uploads are streamed to `LIBRARY/uploads/` under their own name (made unique), counting
bytes as they come, so a body over `serve.upload_max_bytes` is refused without filling
the disk first; the upload folder is always an allowed folder.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from videolearn.apps.playback import allowed_folders, uploads_folder
from videolearn.errors import JobNotFoundError, OptionError, UploadTooLargeError
from videolearn.ingest.scan import is_media_name
from videolearn.library import Library
from videolearn.pipeline import IndexResult, IndexStatus
from videolearn.types import shown_path

# A file name an upload may have: no folders, no NUL, an extension; not hidden.
FILE_NAME_PATTERN = r"^[^./\\\x00][^/\\\x00]{0,199}\.[A-Za-z0-9]{1,5}$"
_FILE_NAME = re.compile(FILE_NAME_PATTERN)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # the run itself failed (another writer, say); files fail in results


@dataclass
class _Job:
    id: int
    paths: list[str]
    state: JobState = JobState.QUEUED
    created_at: float = field(default_factory=time.time)
    files_total: int = 0
    files_done: int = 0
    current: str = ""
    reached_s: float = 0.0
    duration_s: float = 0.0
    results: list[IndexResult] = field(default_factory=list)
    error: str = ""
    # Bumped on every change: a waiter knows when there is news.
    version: int = 0
    # After the files: what the run does (finding copies, say), units done and in all.
    after_run: tuple[str, int, int] | None = None


@dataclass(frozen=True)
class JobView:
    """A job as it stands."""

    id: int
    state: JobState
    paths: list[str]
    files_total: int
    files_done: int
    current: str
    reached_s: float
    duration_s: float
    results: list[IndexResult]
    error: str
    version: int
    after_run: tuple[str, int, int] | None = None

    @property
    def finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": str(self.state),
            "paths": self.paths,
            "files_total": self.files_total,
            "files_done": self.files_done,
            "current": self.current,
            "reached_s": round(self.reached_s, 2),
            "duration_s": round(self.duration_s, 2),
            "results": [r.to_json() for r in self.results],
            "error": self.error,
            # After the files: what the run does, e.g. {"what": "finding copies",
            # "done": 6000, "total": 100000} (videos); null before and when there is none.
            "after_run": (
                dict(zip(("what", "done", "total"), self.after_run, strict=True))
                if self.after_run
                else None
            ),
        }


class _Progress:
    def __init__(self, jobs: IndexJobs, job: _Job) -> None:
        self.jobs = jobs
        self.job = job

    def file_started(self, path: Path, number: int, total: int) -> None:
        self.jobs._update(self.job, current=shown_path(path), files_total=total, reached_s=0.0)

    def media_progress(self, reached_s: float, duration_s: float) -> None:
        self.jobs._update(self.job, reached_s=reached_s, duration_s=duration_s)

    def file_done(self, result: IndexResult) -> None:
        with self.jobs._changed:
            self.job.results.append(result)
            self.job.files_done += 1
            self.job.version += 1
            self.jobs._changed.notify_all()

    def after_run(self, what: str, done: int, total: int) -> None:
        self.jobs._update(self.job, after_run=(what, done, total))


class IndexJobs:
    """The server's index jobs: started by `start`, run in order by one thread."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self._jobs: dict[int, _Job] = {}
        self._ids = itertools.count(1)
        self._queue: list[_Job] = []
        self._changed = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="index-jobs", daemon=True)
        self._thread.start()

    # -- starting -----------------------------------------------------------------------

    def start(self, paths: Sequence[str]) -> JobView:
        """Queue an index job over `paths` (files or folders inside the allowed folders).

        Raises:
            OptionError: no path, or a path that does not exist or lies outside
                `serve.roots` (and the uploads folder).
        """
        if not paths:
            raise OptionError("give at least one path to index")
        folders = allowed_folders(self.library)
        checked = []
        for given in paths:
            if "\x00" in given:
                raise OptionError(f"{given!r}: a path holds no NUL character")
            # os.path.expanduser leaves "~nobody" as it is; Path.expanduser raises.
            real = Path(os.path.realpath(os.path.expanduser(given)))  # noqa: PTH111
            if not any(real.is_relative_to(f) for f in folders):
                raise OptionError(
                    f"{given}: not inside serve.roots; the server indexes only files in "
                    "the folders its settings allow"
                )
            if not real.exists():
                raise OptionError(f"{given}: no such file or folder")
            checked.append(str(real))
        job = _Job(next(self._ids), checked)
        with self._changed:
            if self._closed:
                raise OptionError("the server is stopping; no new jobs")
            self._jobs[job.id] = job
            self._queue.append(job)
            self._changed.notify_all()
        return self._view(job)

    def save_upload(self, name: str) -> UploadWriter:
        """A writer for an uploaded file named `name` in the uploads folder.

        Raises:
            OptionError: the name is no media file's name.
        """
        return receive_upload(self.library, name, media=True)

    # -- reading ------------------------------------------------------------------------

    def get(self, job_id: int) -> JobView:
        """Raises JobNotFoundError when there is no such job."""
        with self._changed:
            job = self._jobs.get(job_id)
            if job is None:
                raise JobNotFoundError(f"no index job {job_id} on this server")
            return self._view(job)

    def list(self) -> list[JobView]:
        with self._changed:
            return [self._view(j) for j in sorted(self._jobs.values(), key=lambda j: -j.id)]

    def wait(self, job_id: int, seen_version: int, timeout_s: float) -> JobView:
        """The job once it has changed since `seen_version` (or after `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                job = self._jobs.get(job_id)
                if job is None:
                    raise JobNotFoundError(f"no index job {job_id} on this server")
                left = deadline - time.monotonic()
                if job.version != seen_version or left <= 0:
                    return self._view(job)
                self._changed.wait(left)

    def close(self, timeout_s: float = 5.0) -> None:
        """Take no new jobs; wait a little for the running one (its files stay pending in
        the ledger if it does not finish: the next `index` finishes them)."""
        with self._changed:
            self._closed = True
            self._queue.clear()
            self._changed.notify_all()
        self._thread.join(timeout_s)

    # -- running ------------------------------------------------------------------------

    def _view(self, job: _Job) -> JobView:
        return JobView(
            job.id,
            job.state,
            list(job.paths),
            job.files_total,
            job.files_done,
            job.current,
            job.reached_s,
            job.duration_s,
            list(job.results),
            job.error,
            job.version,
            job.after_run,
        )

    def _update(self, job: _Job, **changes: Any) -> None:
        with self._changed:
            for name, value in changes.items():
                setattr(job, name, value)
            job.version += 1
            self._changed.notify_all()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._queue and not self._closed:
                    self._changed.wait()
                if self._closed:
                    return
                job = self._queue.pop(0)
            self._update(job, state=JobState.RUNNING)
            try:
                self.library.index(job.paths, _Progress(self, job))
            except Exception as err:  # the run as a whole: a job never takes the server down
                self._update(job, state=JobState.FAILED, error=f"{type(err).__name__}: {err}")
                continue
            self._update(job, state=JobState.DONE, current="")


def receive_upload(library: Library, name: str, *, media: bool, keep: bool = True) -> UploadWriter:
    """A writer for an upload named `name`: kept in the uploads folder, or (not `keep`)
    in its `.incoming` folder for the caller to delete once read (a file to hash or
    match, a bank file to import).

    Raises:
        OptionError: the name is not a file name with an extension (with `media`, a
            video or sound file's).
    """
    base = Path(name).name
    if not _FILE_NAME.match(base):  # a hidden name does not match either
        raise OptionError(f"{name!r} is not a file name with an extension")
    if media and not is_media_name(Path(base)):
        raise OptionError(f"{base}: not a known video or audio file extension")
    folder = uploads_folder(library) / ("" if keep else ".incoming")
    folder.mkdir(parents=True, exist_ok=True)
    return UploadWriter(folder, base, library.settings.serve.upload_max_bytes)


class UploadWriter:
    """An upload on its way to disk: write its chunks, then `finish` (or `abort`).

    Each upload has a file of its own however many arrive under one name at once: its
    `.partial` file is created exclusively (a name another upload holds is passed over),
    and the finished file is linked in place without replacing any file.
    """

    def __init__(self, folder: Path, name: str, max_bytes: int) -> None:
        self.folder = folder
        self.name = name
        self.max_bytes = max_bytes
        self.size_bytes = 0
        self.path, self._partial = self._reserve(1)
        self._file = self._partial.open("wb")

    def _reserve(self, first: int) -> tuple[Path, Path]:
        """The first free name from the `first`th on, and its `.partial` file, created."""
        stem, suffix = Path(self.name).stem, Path(self.name).suffix
        for n in itertools.count(first):
            path = self.folder / (self.name if n == 1 else f"{stem}-{n}{suffix}")
            partial = path.with_name(path.name + ".partial")
            if path.exists():
                continue
            try:
                partial.touch(exist_ok=False)
            except FileExistsError:
                continue
            return path, partial
        raise AssertionError("unreachable")

    def write(self, chunk: bytes) -> None:
        """Raises UploadTooLargeError (and removes what was written) past the limit."""
        self.size_bytes += len(chunk)
        if self.size_bytes > self.max_bytes:
            self.abort()
            raise UploadTooLargeError(
                f"{self.path.name}: upload larger than serve.upload_max_bytes "
                f"({self.max_bytes} bytes)"
            )
        self._file.write(chunk)

    def finish(self) -> Path:
        """The stored file (written whole: a partial file is renamed when complete).

        Raises:
            OptionError: the upload was empty.
        """
        self._file.close()
        if self.size_bytes == 0:
            self._partial.unlink(missing_ok=True)
            raise OptionError(f"{self.path.name}: the upload is empty")
        while True:
            try:
                os.link(self._partial, self.path)  # never over a file that came meanwhile
                break
            except FileExistsError:
                self.path, partial = self._reserve(2)
                partial.unlink()
        self._partial.unlink()
        return self.path

    def abort(self) -> None:
        self._file.close()
        self._partial.unlink(missing_ok=True)


__all__ = [
    "FILE_NAME_PATTERN",
    "IndexJobs",
    "IndexStatus",
    "JobState",
    "JobView",
    "UploadWriter",
    "allowed_folders",
    "receive_upload",
]
