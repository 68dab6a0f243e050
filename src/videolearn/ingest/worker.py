"""Decoding in a child process with limits on memory, CPU time and wall time.

A malformed file can make a decoder allocate without bound, spin, or crash; in a child
process that costs one file, not the run. The child is forked from a forkserver that has
already imported PyAV, so starting one is cheap. Chunks stream back as they are decoded,
which lets the parent run extractors on one core while the child decodes on the other.

Frames travel as raw files in a private folder on /dev/shm (memory-backed) and only
their names go through the pipe: pickling frames through the pipe cost 3x more. A byte
budget (`decode.spill_bytes`) bounds how far the child may run ahead of the parent.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import shutil
import signal
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from videolearn.config import DecodeLimits
from videolearn.errors import MediaError
from videolearn.ingest.decode import (
    DecodeReport,
    DecodeRequest,
    FrameBatch,
    FrameSampling,
    MediaChunk,
    open_media,
)
from videolearn.types import Closing, MediaInfo

_context: Any = None
# A chunk's frames as sent: sampling, the .npy file holding them, their times.
_SpilledFrames = tuple[FrameSampling, str, tuple[int, ...], np.ndarray]


_SPILL_PREFIX = "videolearn-decode-"
_swept = False


def _spill_dir(owner_pid: int) -> str:
    """A private folder for one decode's frames, on /dev/shm when it is writable.

    The folder name carries the pid of the process that reads it; folders left by
    readers that were killed (and by their decodes, had those been killed too) are
    removed on first use.
    """
    global _swept
    shm = Path("/dev/shm")
    base = Path(shm if shm.is_dir() and os.access(shm, os.W_OK) else tempfile.gettempdir())
    if not _swept:
        _swept = True
        for old in base.glob(f"{_SPILL_PREFIX}*"):
            pid = old.name[len(_SPILL_PREFIX) :].split("-")[0]
            if pid.isdigit() and not process_alive(int(pid)):
                shutil.rmtree(old, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{_SPILL_PREFIX}{owner_pid}-", dir=base)


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists and has not ended (a killed process stays a
    zombie until its parent reaps it: that counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc here: existing is all that can be known
    return state not in ("Z", "X")


def exit_when_gone(pid: int, leftover: str | None = None, every_s: float = 0.5) -> None:
    """In a child: end this process when process `pid` (the one that started it) is gone.

    A `kill -9` of the index process tells its children nothing. A child blocked in a read
    never notices: a queue's reader holds the write end of the queue's own pipe, so a
    message cut off by the kill leaves it waiting forever for the rest (it kept its
    forkserver, its resource tracker and the queues' semaphores alive with it). A thread
    that watches the starter ends the child whatever it is blocked in, after removing the
    folder `leftover` (a decode's spilled frames, in memory on /dev/shm).
    """

    def watch() -> None:
        while process_alive(pid):
            time.sleep(every_s)
        # The main thread may still be writing a chunk into the folder: remove until gone.
        deadline = time.monotonic() + 2.0
        while leftover is not None and Path(leftover).exists() and time.monotonic() < deadline:
            shutil.rmtree(leftover, ignore_errors=True)
            time.sleep(0.01)
        os._exit(1)

    threading.Thread(target=watch, name="videolearn-starter-watch", daemon=True).start()


def mp_context() -> Any:
    """The forkserver context every child of videolearn's starts from: a process that has
    imported PyAV and nothing heavier, no threads, no models."""
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(["videolearn.ingest.worker"])
    return _context


class _SpillBudget:
    """Bytes of decoded frames waiting for the parent, shared by parent and child."""

    def __init__(self, ctx: Any, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._cond = ctx.Condition()
        self._used = ctx.Value("q", 0, lock=False)

    def take(self, size_bytes: int) -> None:
        """Child: wait until `size_bytes` more fit (one chunk always fits when none wait)."""
        parent = os.getppid()
        with self._cond:
            while self._used.value and self._used.value + size_bytes > self.limit_bytes:
                # A killed parent never makes room: stop waiting when it is gone.
                if not self._cond.wait(timeout=1.0) and os.getppid() != parent:
                    raise SystemExit(1)
            self._used.value += size_bytes

    def give(self, size_bytes: int) -> None:
        """Parent: the chunk has been taken up."""
        with self._cond:
            self._used.value -= size_bytes
            self._cond.notify_all()


def apply_limits(limits: DecodeLimits) -> None:
    """In a child: hold it to the decode limits' memory and CPU time."""
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 5))


def _decode_child(  # noqa: PLR0917  a Process target takes positional arguments
    conn: Connection,
    path: str,
    request: DecodeRequest,
    limits: DecodeLimits,
    budget: _SpillBudget,
    starter_pid: int,
) -> None:
    # The child makes its spill folder, so that a starter killed at any moment leaves
    # none behind: before this, the folder does not exist; after it, the watch removes it.
    spill_dir = _spill_dir(starter_pid)
    exit_when_gone(starter_pid, leftover=spill_dir)
    try:
        conn.send(("spill", spill_dir))
        _decode_to(conn, Path(path), request, limits, budget, spill_dir)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the reader is gone (closed, or killed): nobody to tell
    finally:
        conn.close()
    # The starter removes the folder when it closes the decode (and ends this child); until
    # then this child stays, idle, so that its watch removes the folder should the starter
    # be killed first.
    while Path(spill_dir).exists():
        time.sleep(0.2)


def _decode_to(  # noqa: PLR0917
    conn: Connection,
    path: Path,
    request: DecodeRequest,
    limits: DecodeLimits,
    budget: _SpillBudget,
    spill_dir: str,
) -> None:
    """Decode `path` under the limits, sending its description, its chunks (frames as
    files in `spill_dir`) and its report, or why it failed."""
    try:
        apply_limits(limits)
        with open_media(path, limits) as media:
            conn.send(("info", media.info))
            for number, chunk in enumerate(media.iter_raw_chunks(request)):
                budget.take(
                    sum(sum(i.nbytes for i in images) for images, _ in chunk.frames.values())
                )
                spilled: list[_SpilledFrames] = []
                for i, (sampling, (images, times)) in enumerate(chunk.frames.items()):
                    name = f"{spill_dir}/{number}-{i}.raw"
                    with Path(name).open("wb") as f:
                        for image in images:
                            f.write(image.data)
                    spilled.append((sampling, name, images[0].shape, times))
                conn.send(("chunk", (chunk.end_s, spilled, chunk.audio)))
            conn.send(("report", media.report))
    except MediaError as err:
        conn.send(("error", err.reason))
    except (MemoryError, ImportError):
        # Under RLIMIT_AS an allocation fails as MemoryError, or as an ImportError when a
        # lazily loaded extension module cannot be mapped.
        conn.send(
            (
                "error",
                f"decoding needed more than {limits.memory_bytes:,} bytes of memory "
                "(decode.memory_bytes)",
            )
        )
    except (BrokenPipeError, ConnectionResetError):
        raise
    except Exception as err:  # a decoder bug must become a reason, not a lost run
        conn.send(("error", f"the decoder failed: {type(err).__name__}: {err}"))


def start_without_main(process: Any) -> None:
    """Start a child of `mp_context()` without re-importing the parent's `__main__`."""
    # multiprocessing makes every child re-import the parent's __main__ script (its "safe
    # importing of main module" for spawn and forkserver). Our child's target lives in this
    # module and needs nothing from __main__, and a script that imports heavy libraries
    # at the top cost ~1 s per decoded file. Hide __main__ while the child is started.
    real_main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        process.start()
    finally:
        sys.modules["__main__"] = real_main


def _limited_child(
    conn: Connection, work: Callable[..., Any], args: tuple[Any, ...], limits: DecodeLimits
) -> None:
    try:
        apply_limits(limits)
        conn.send(("done", work(*args)))
    except MediaError as err:
        conn.send(("error", err.reason))
    except MemoryError:
        conn.send(("error", f"needed more than {limits.memory_bytes:,} bytes of memory"))
    except Exception as err:  # a codec failure becomes a reason, not a crash
        conn.send(("error", f"{type(err).__name__}: {err}"))
    finally:
        conn.close()


def run_limited(  # noqa: PLR0917  the work, and what to say of it
    work: Callable[..., Any],
    args: tuple[Any, ...],
    limits: DecodeLimits,
    wall_s: float,
    source: Path,
    what: str,
) -> Any:
    """`work(*args)` (a module-level function) in a child process held to the decode
    limits and `wall_s`; what it returns.

    Raises:
        MediaError: naming `source`: making `what` failed, died or ran past `wall_s`.
    """
    ctx = mp_context()
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_limited_child, args=(child, work, args, limits))
    start_without_main(process)
    child.close()
    try:
        if not parent.poll(wall_s):
            raise MediaError(source, f"making {what} took over {wall_s:.0f} s")
        try:
            kind, value = parent.recv()
        except EOFError:
            kind, value = "error", f"the process making {what} died"
        if kind != "done":
            raise MediaError(source, f"cannot make {what}: {value}")
        return value
    finally:
        parent.close()
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join(5)


class DecodeProcess(Closing):
    """A decode running in a child process. Use `open_decode`."""

    def __init__(self, path: Path, request: DecodeRequest, limits: DecodeLimits) -> None:
        self.path = path
        self.limits = limits
        self.report: DecodeReport | None = None
        self._deadline = time.monotonic() + limits.wall_s
        ctx = mp_context()
        self._spill_dir: str | None = None
        self._budget = _SpillBudget(ctx, limits.spill_bytes)
        self._conn, child_conn = ctx.Pipe(duplex=False)
        self._process = ctx.Process(
            target=_decode_child,
            args=(
                child_conn,
                str(path),
                request,
                limits,
                self._budget,
                os.getpid(),
            ),
            name=f"videolearn-decode:{path.name}",
            daemon=True,
        )
        start_without_main(self._process)
        child_conn.close()
        kind, payload = self._receive()
        if kind == "spill":
            self._spill_dir = str(payload)
            kind, payload = self._receive()
        if kind != "info":
            self.close()
            raise MediaError(path, f"the decoder sent {kind!r} before the file's description")
        self.info: MediaInfo = payload

    def _receive(self) -> tuple[str, Any]:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0 or not self._conn.poll(remaining):
            self.close()
            raise MediaError(
                self.path,
                f"decoding took longer than the wall-time limit of {self.limits.wall_s:g} s "
                "(decode.wall_s)",
            )
        try:
            kind, payload = self._conn.recv()
        except (EOFError, ConnectionError):
            raise MediaError(self.path, self._death_reason()) from None
        if kind == "error":
            self.close()
            raise MediaError(self.path, str(payload))
        return str(kind), payload

    def _death_reason(self) -> str:
        self._process.join(timeout=5)
        code = self._process.exitcode
        if code is not None and code < 0:
            signum = -code
            if signum in (signal.SIGXCPU, signal.SIGKILL):
                return (
                    f"decoding used more than the CPU-time limit of {self.limits.cpu_s:,} s "
                    "(decode.cpu_s)"
                )
            return f"the decoder crashed ({signal.Signals(signum).name})"
        return f"the decoder exited unexpectedly (exit code {code})"

    def __iter__(self) -> Iterator[MediaChunk]:
        while True:
            kind, payload = self._receive()
            if kind == "chunk":
                yield self._unspill(*payload)
            elif kind == "report":
                self.report = payload
                return

    def _unspill(self, end_s: float, spilled: list[_SpilledFrames], audio: Any) -> MediaChunk:
        frames = {}
        size_bytes = 0
        for sampling, name, shape, times in spilled:
            # Mapped, not read: the pages are already in memory. Unlinking now is safe, the
            # mapping keeps them until the batch is dropped. Extractors get read-only frames.
            images = np.memmap(name, dtype=np.uint8, mode="r", shape=(len(times), *shape))
            frames[sampling] = FrameBatch(images, times)
            size_bytes += images.nbytes
            Path(name).unlink()
        self._budget.give(size_bytes)
        return MediaChunk(end_s=end_s, frames=frames, audio=audio)

    def close(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join(timeout=10)
        self._conn.close()
        if self._spill_dir is not None:
            shutil.rmtree(self._spill_dir, ignore_errors=True)


def open_decode(path: Path, request: DecodeRequest, limits: DecodeLimits) -> DecodeProcess:
    """Start decoding `path` in a child process; `.info` is ready when this returns.

    Iterate the result for chunks; `.report` is set once iteration ends.

    Raises:
        MediaError: the file cannot be opened, breaks a limit, or the decoder died.
    """
    return DecodeProcess(path, request, limits)
