"""What answers derive from the whole library, kept between calls and between processes.

`similar`, same sound, copies and themes compare a video with every other, so each first
reads the whole library and derives what it compares with: every video's profile, the
copy rule's key sketches, the fingerprints and their postings. A server keeps that in
memory between calls. A command is a new process each time, where reading and deriving it
again was most of the call (1.1 s of `videolearn similar`'s 2.1 s at 1,000 videos). So each
derived thing is also kept in `LIBRARY/cache/NAME.npz`: plain arrays (read back without
pickle), under the store's state (`Store.state`, which every write changes) and the
derivation's version. A write makes it stale; the next call derives it again and replaces
the file. A file that is missing, stale, unreadable or cannot be written costs only the
time to derive it again.

Bump a `Kept`'s `version` when what it derives, or how it lays it out in arrays, changes.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

from videolearn.store import Store
from videolearn.store.tables import VideoRow

CACHE_DIR = "cache"
_STATE = "__state__"
_log = logging.getLogger(__name__)

T = TypeVar("T")
Arrays = Mapping[str, np.ndarray]


class Kept(Generic[T]):
    """One thing derived from a library: built by `build(store)`, laid out as arrays by
    `dump` and read back by `load`; the latest kept in memory (one library's) and on disk
    (each library's own)."""

    def __init__(
        self,
        name: str,
        version: int,
        build: Callable[[Store], T],
        dump: Callable[[T], Arrays],
        load: Callable[[Arrays], T],
    ) -> None:
        self.name, self.version = name, version
        self._build, self._dump, self._load = build, dump, load
        self._lock = threading.Lock()
        self._memo: tuple[tuple[Path, str], T] | None = None

    def get(self, store: Store, where: Path) -> T:
        """What the library at `where` (whose store `store` is) derives now."""
        key = (where.resolve(), f"{self.version}/{store.state()}")
        with self._lock:
            if self._memo is not None and self._memo[0] == key:
                return self._memo[1]
            path = key[0] / CACHE_DIR / f"{self.name}.npz"
            value = self._read(path, key[1])
            if value is None:
                value = self._build(store)
                self._write(path, key[1], value)
            self._memo = (key, value)
            return value

    def _read(self, path: Path, state: str) -> T | None:
        try:
            with np.load(path, allow_pickle=False) as kept:
                if str(kept[_STATE]) != state:
                    return None
                return self._load({name: kept[name] for name in kept.files if name != _STATE})
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
            _log.info("derived again: %s could not be read (%s)", path, err)
            return None

    def _write(self, path: Path, state: str, value: T) -> None:
        arrays = {name: np.asarray(a) for name, a in self._dump(value).items()}
        arrays[_STATE] = np.asarray(state)
        try:
            path.parent.mkdir(exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{self.name}-", dir=path.parent)
            try:
                os.fchmod(handle, 0o644)  # as readable as the library's other files
                with os.fdopen(handle, "wb") as out:
                    np.savez(out, allow_pickle=False, **arrays)
                Path(temporary).replace(path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as err:  # a library on a read-only disk is still answered
            _log.info("not kept: %s (%s)", path, err)


def video_rows(videos: Iterable[VideoRow]) -> np.ndarray:
    """Stored videos' rows as one array (`rows_of_videos` reads them back)."""
    return np.asarray(json.dumps([v.to_arrow() for v in videos]))


def rows_of_videos(array: np.ndarray) -> list[VideoRow]:
    return [VideoRow.from_arrow(v) for v in json.loads(str(array))]


def strings(values: Iterable[object]) -> np.ndarray:
    """Text as an array `np.load` reads back without pickle."""
    out = np.array([str(v) for v in values], dtype=np.str_)
    return out if out.size else np.zeros(0, dtype="<U1")


def ragged(
    parts: list[np.ndarray], dtype: type | np.dtype, width: int = 0
) -> dict[str, np.ndarray]:
    """Arrays of different lengths as one array and where each starts (`unragged` reads
    them back)."""
    sizes = np.array([len(p) for p in parts], np.int64)
    shape = (0, width) if width else (0,)
    joined = np.concatenate(parts) if parts else np.zeros(shape, dtype)
    return {"joined": np.asarray(joined, dtype), "starts": np.concatenate([[0], np.cumsum(sizes)])}


def unragged(joined: np.ndarray, starts: np.ndarray) -> list[np.ndarray]:
    return [joined[a:b] for a, b in itertools.pairwise(starts)]
