"""Extractors of one model family in a worker process of their own, beside the index process.

onnxruntime, CTranslate2 and torch each bring their own thread pools, and in one process
they were measured to slow each other down by 10x or more. During `index` every family
named by an extractor's `family` gets one worker process, forked from the decode
forkserver (a clean process: no threads, no models), which builds its extractors from the
settings, loads them once and runs their passes on the chunks the index process sends it.
Sending is asynchronous through a bounded queue, so the families work at the same time as
the index process and each other; the bound (`workers.queue_chunks`) is how far the index
process may run ahead of a slower family before it waits. A family whose extractors only
listen (speech) decodes the sound itself, in a limited decode child of its own: sound is
cheap to decode, and that way transcription need not wait for the index process to get
through the pictures (it would otherwise be left with the last Whisper window of every
file to do alone, on one core, after everything else is done).

A worker that raises fails the file with the extractor's name and the reason, like an
extractor in the index process does. A worker that dies (killed, out of memory, a crash in
native code) fails the file it was working on and is started again for the next one.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videolearn.config import DecodeLimits, Settings
from videolearn.errors import ExtractorError, MediaError
from videolearn.extractors.base import (
    Extractor,
    ExtractorPass,
    Signal,
    VideoContext,
    describe_failure,
)
from videolearn.ingest.decode import DecodeRequest, FrameBatch, FrameSampling, MediaChunk
from videolearn.ingest.worker import (
    exit_when_gone,
    mp_context,
    open_decode,
    process_alive,
    start_without_main,
)
from videolearn.types import Closing

# How often a wait on a worker checks that it is still alive.
_POLL_S = 0.5


@dataclass(frozen=True)
class _Finished:
    """A worker's answer to a finish request: the extractor's signals, or why it failed."""

    file_number: int
    name: str
    signals: list[Signal]
    failure: str | None


class _Work:
    """A worker's extractors and their passes over the current file."""

    def __init__(self, extractors: list[Extractor]) -> None:
        self.extractors = extractors
        self.active: list[Extractor] = []  # those asked for on the current file
        self.number = -1
        self.passes: dict[str, ExtractorPass] = {}
        self.found: dict[str, list[Signal]] = {}
        self.failures: dict[str, str] = {}
        self.finished: dict[str, _Finished] = {}

    def begin(self, number: int, video: VideoContext, names: frozenset[str]) -> None:
        self.number = number
        self.passes.clear()
        self.failures.clear()
        self.finished.clear()
        self.active = [ex for ex in self.extractors if ex.name in names]
        self.found = {ex.name: [] for ex in self.active}
        for ex in self.active:
            try:
                self.passes[ex.name] = ex.begin(video)
            except Exception as err:
                self.failures[ex.name] = describe_failure(ex.name, err)

    def feed(self, chunk: MediaChunk) -> None:
        for ex in self.active:
            if ex.name in self.failures:
                continue
            try:
                self.found[ex.name].extend(self.passes[ex.name].feed(chunk))
            except Exception as err:
                self.failures[ex.name] = describe_failure(ex.name, err)

    def read_sound(self, path: Path, limits: DecodeLimits, moved_on: Callable[[], bool]) -> None:
        """Decode the file's sound here, in a limited child of this worker, and feed it:
        the sound does not wait for the index process to get through the pictures."""
        if not self.active:
            return
        end_s = 0.0
        try:
            with open_decode(path, DecodeRequest(audio=True), limits) as decode:
                for chunk in decode:
                    end_s = max(end_s, chunk.end_s)
                    self.feed(chunk)
                    if moved_on():
                        return
        except MediaError as err:
            for ex in self.active:
                self.failures.setdefault(
                    ex.name, f"extractor {ex.name} could not read the sound: {err.reason}"
                )
            return
        # All the sound is here: extractors that wait for nobody's signals finish now, not
        # when the index process, still busy with the pictures, asks.
        for ex in self.active:
            if not ex.needs and not ex.reads:
                self.finished[ex.name] = self.finish(ex.name, end_s, {})

    def finish(self, name: str, end_s: float, earlier: Mapping[str, Sequence[Signal]]) -> _Finished:
        if name in self.finished:
            return self.finished.pop(name)
        if name not in self.failures:
            try:
                self.found[name].extend(self.passes[name].finish(end_s, earlier))
            except Exception as err:
                self.failures[name] = describe_failure(name, err)
        return _Finished(self.number, name, self.found.pop(name, []), self.failures.get(name))


def _worker_main(  # noqa: PLR0917  a Process target takes positional arguments
    classes: list[type[Extractor]],
    settings: dict[str, Any],
    reads_sound: bool,
    index_pid: int,
    inbox: Any,
    outbox: Any,
) -> None:
    """The worker process: build and load the extractors, then run passes as told.

    Messages in: ("begin", number, video, names), ("feed", number, chunk),
    ("finish", number, name, end_s, earlier), ("stop",). Out: ("loaded", None) or
    ("load-failed", reason) once, then a `_Finished` per finish request. With
    `reads_sound` the worker decodes each file's sound itself and gets no feeds.
    """
    # A Ctrl-C in the terminal reaches the whole process group: the index process decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_when_gone(index_pid)
    built = Settings.model_validate(settings)
    extractors: list[Extractor] = []
    for cls in classes:
        try:
            extractors.append(cls(built))
            extractors[-1].load()
        except Exception as err:
            outbox.put(("load-failed", describe_failure(cls.name, err)))
            return
    outbox.put(("loaded", None))
    work = _Work(extractors)
    pending: deque[tuple[Any, ...]] = deque()

    def moved_on() -> bool:
        # Take in what has arrived: has the index process gone on to another file, or
        # gone (a killed process sends no "stop")?
        with contextlib.suppress(queue.Empty):
            while True:
                pending.append(inbox.get_nowait())
        if not process_alive(index_pid):
            raise SystemExit(1)
        return any(m[0] in ("begin", "stop") for m in pending)

    while True:
        if pending:
            message = pending.popleft()
        else:
            try:
                message = inbox.get(timeout=_POLL_S)
            except queue.Empty:
                moved_on()
                continue
        kind = message[0]
        if kind == "stop":
            return
        if kind == "begin":
            work.begin(message[1], message[2], message[3])
            if reads_sound:
                work.read_sound(message[2].path, built.decode, moved_on)
        elif kind == "feed" and message[1] == work.number:
            work.feed(message[2])
        elif kind == "finish" and message[1] == work.number:
            outbox.put(work.finish(*message[2:]))


class _Worker:
    """The index process's handle on one family's worker process."""

    def __init__(self, family: str, extractors: Sequence[Extractor], settings: Settings) -> None:
        self.family = family
        self.extractors = list(extractors)
        self.names = [ex.name for ex in extractors]
        self.settings = settings
        self.frames: set[FrameSampling] = {
            ex.sampling.frames for ex in extractors if ex.sampling.frames is not None
        }
        self.audio = any(ex.sampling.audio for ex in extractors)
        # Extractors that only listen get the sound from a decode of their own, which runs
        # ahead of the pictures the index process works through.
        self.reads_sound = self.audio and not self.frames
        self.process: Any = None
        self.ready: dict[str, _Finished] = {}

    def start(self) -> None:
        ctx = mp_context()
        self.inbox = ctx.Queue(maxsize=self.settings.workers.queue_chunks)
        self.outbox = ctx.Queue()
        self.process = ctx.Process(
            target=_worker_main,
            args=(
                [type(ex) for ex in self.extractors],
                self.settings.model_dump(),
                self.reads_sound,
                os.getpid(),
                self.inbox,
                self.outbox,
            ),
            name=f"videolearn-{self.family}",
            # Not a daemon: a listening worker starts decode children of its own, which
            # daemons may not. `close` stops it; a worker whose index process is gone
            # stops by itself.
            daemon=False,
        )
        start_without_main(self.process)

    def wait_loaded(self) -> None:
        """Block until the worker has loaded its models. Raises ExtractorError."""
        kind, payload = self._receive(self.settings.workers.load_timeout_s, "loading its models")
        if kind == "load-failed":
            self.stop()
            raise ExtractorError(str(payload))

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def send(self, message: tuple[Any, ...]) -> None:
        while True:
            try:
                self.inbox.put(message, timeout=_POLL_S)
                return
            except queue.Full:
                if not self.process.is_alive():
                    raise ExtractorError(self._death()) from None

    def collect(self, number: int, name: str) -> list[Signal]:
        """The signals of `name` for file `number`, once the worker has finished them."""
        while name not in self.ready:
            answer = self._receive(None, f"running {name}")
            if isinstance(answer, _Finished) and answer.file_number == number:
                self.ready[answer.name] = answer
            # Answers for an earlier file are left over from a file that failed: dropped.
        done = self.ready.pop(name)
        if done.failure is not None:
            raise ExtractorError(done.failure)
        return done.signals

    def _receive(self, timeout_s: float | None, doing: str) -> Any:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            try:
                return self.outbox.get(timeout=_POLL_S)
            except queue.Empty:
                if not self.process.is_alive():
                    raise ExtractorError(self._death()) from None
                if deadline is not None and time.monotonic() > deadline:
                    self.stop()
                    raise ExtractorError(
                        f"the {self.family} worker ({', '.join(self.names)}) took more than "
                        f"{timeout_s:g} s {doing} (workers.load_timeout_s)"
                    ) from None

    def _death(self) -> str:
        self.process.join(timeout=5)
        code = self.process.exitcode
        how = (
            f"was killed by {signal.Signals(-code).name}"
            if code is not None and code < 0
            else f"exited with code {code}"
        )
        return (
            f"the {self.family} worker process ({', '.join(self.names)}) {how}; "
            "it is started again for the next file"
        )

    def chunk_for(self, chunk: MediaChunk) -> MediaChunk:
        """The parts of a chunk this worker's extractors asked for, as plain arrays (the
        index process's frames are mapped files that do not travel)."""
        return MediaChunk(
            end_s=chunk.end_s,
            frames={
                s: FrameBatch(np.asarray(b.frames), b.times_s)
                for s, b in chunk.frames.items()
                if s in self.frames
            },
            audio=chunk.audio if self.audio else None,
        )

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.is_alive():
            with contextlib.suppress(queue.Full):
                self.inbox.put(("stop",), timeout=_POLL_S)
            self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=10)
        for q in (self.inbox, self.outbox):
            q.cancel_join_thread()  # a dead reader must not hold up our exit
            q.close()
        self.process = None
        self.ready.clear()


class ExtractorWorkers(Closing):
    """The worker processes of one index run, one per model family. Use
    `open_extractor_workers`; `run_extractors` drives them beside the in-process passes."""

    def __init__(self, extractors: Sequence[Extractor], settings: Settings) -> None:
        families: dict[str, list[Extractor]] = {}
        for ex in extractors:
            if ex.family:
                families.setdefault(ex.family, []).append(ex)
        self._workers = [_Worker(f, exs, settings) for f, exs in families.items()]
        self._by_name = {name: w for w in self._workers for name in w.names}
        self._busy: list[_Worker] = []  # the workers with passes over the current file
        self._number = 0
        try:
            for worker in self._workers:
                worker.start()
            for worker in self._workers:  # loading in parallel, one family per process
                worker.wait_loaded()
        except BaseException:
            self.close()
            raise

    @property
    def names(self) -> frozenset[str]:
        """The extractors that run in worker processes."""
        return frozenset(self._by_name)

    def begin(self, video: VideoContext, names: frozenset[str] | None = None) -> None:
        """Start the workers' passes over a video, of the extractors `names` (all when
        None); a worker that died is started again."""
        self._number += 1
        wanted = self.names if names is None else names
        self._busy = [w for w in self._workers if wanted.intersection(w.names)]
        for worker in self._workers:
            if not worker.alive:
                worker.stop()
                worker.start()
                worker.wait_loaded()
            worker.send(("begin", self._number, video, wanted))

    def feed(self, chunk: MediaChunk) -> None:
        for worker in self._busy:
            # Only workers that look at pictures are fed: listeners read the sound
            # themselves, and the rest read only others' signals at the end.
            if worker.frames:
                worker.send(("feed", self._number, worker.chunk_for(chunk)))

    def request_finish(
        self, name: str, end_s: float, earlier: Mapping[str, Sequence[Signal]]
    ) -> None:
        """Ask for `name`'s last signals; `collect` waits for them."""
        self._by_name[name].send(("finish", self._number, name, end_s, dict(earlier)))

    def collect(self, name: str) -> list[Signal]:
        """Every signal `name` found in the current video. Raises ExtractorError."""
        return self._by_name[name].collect(self._number, name)

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()


def open_extractor_workers(extractors: Sequence[Extractor], settings: Settings) -> ExtractorWorkers:
    """Start a worker process per model family among `extractors` and load their models
    (each family in parallel). Close the result when the run is over.

    Raises:
        ExtractorError: a worker could not load its extractors.
    """
    return ExtractorWorkers(extractors, settings)
