"""Decoding in a child process with limits on memory, CPU time and wall time.

A malformed file can make a decoder allocate without bound, spin, or crash; in a child
process that costs one file, not the run. The child is forked from a forkserver that has
already imported PyAV, so starting one is cheap. Chunks stream back over a pipe as they
are decoded, which lets the parent run extractors on one core while the child decodes on
the other.
"""

from __future__ import annotations

import multiprocessing
import resource
import signal
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any

from videolearn.config import DecodeLimits
from videolearn.errors import MediaError
from videolearn.ingest.decode import DecodeReport, DecodeRequest, MediaChunk, open_media
from videolearn.types import MediaInfo

_context: Any = None


def _mp_context() -> Any:
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(["videolearn.ingest.decode"])
    return _context


def _apply_limits(limits: DecodeLimits) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 5))


def _decode_child(
    conn: Connection, path: str, request: DecodeRequest, limits: DecodeLimits
) -> None:
    try:
        _apply_limits(limits)
        with open_media(Path(path), limits) as media:
            conn.send(("info", media.info))
            for chunk in media.iter_chunks(request):
                conn.send(("chunk", chunk))
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
    except Exception as err:  # a decoder bug must become a reason, not a lost run
        conn.send(("error", f"the decoder failed: {type(err).__name__}: {err}"))
    finally:
        conn.close()


class DecodeProcess:
    """A decode running in a child process. Use `open_decode`."""

    def __init__(self, path: Path, request: DecodeRequest, limits: DecodeLimits) -> None:
        self.path = path
        self.limits = limits
        self.report: DecodeReport | None = None
        self._deadline = time.monotonic() + limits.wall_s
        ctx = _mp_context()
        self._conn, child_conn = ctx.Pipe(duplex=False)
        self._process = ctx.Process(
            target=_decode_child,
            args=(child_conn, str(path), request, limits),
            name=f"videolearn-decode:{path.name}",
            daemon=True,
        )
        self._process.start()
        child_conn.close()
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
                yield payload
            elif kind == "report":
                self.report = payload
                return

    def close(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join(timeout=10)
        self._conn.close()

    def __enter__(self) -> DecodeProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_decode(path: Path, request: DecodeRequest, limits: DecodeLimits) -> DecodeProcess:
    """Start decoding `path` in a child process; `.info` is ready when this returns.

    Iterate the result for chunks; `.report` is set once iteration ends.

    Raises:
        MediaError: the file cannot be opened, breaks a limit, or the decoder died.
    """
    return DecodeProcess(path, request, limits)
