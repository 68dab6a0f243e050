"""Plain value types shared by every layer: time spans and what a probe learns about a file.

Time is always float seconds; a span is half-open in spirit but stored as two floats.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self


@dataclass(frozen=True, order=True)
class TimeSpan:
    """A stretch of media time in seconds, `start_s <= end_s`."""

    start_s: float
    end_s: float

    def __post_init__(self) -> None:
        if not self.start_s <= self.end_s:
            raise ValueError(f"TimeSpan start_s {self.start_s} is after end_s {self.end_s}")
        if self.start_s < 0:
            raise ValueError(f"TimeSpan start_s {self.start_s} is negative")

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class VideoStreamInfo:
    """The first video stream of a file, as the container describes it."""

    codec: str
    width_px: int
    height_px: int
    average_fps: float | None


@dataclass(frozen=True)
class AudioStreamInfo:
    """The first audio stream of a file, as the container describes it."""

    codec: str
    sample_rate_hz: int
    channels: int


@dataclass(frozen=True)
class MediaInfo:
    """What probing a file found, before any frame is decoded."""

    container: str
    duration_s: float
    size_bytes: int
    bit_rate: int | None
    video: VideoStreamInfo | None
    audio: AudioStreamInfo | None
    tags: dict[str, str] = field(default_factory=dict)


class Closing:
    """`with` support for objects that hold something to release in `close()`: what the
    `open_*` functions return."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def shown_path(path: str | Path) -> str:
    """A file name as it is shown and kept in the tables: the name itself when it is
    UTF-8 (nearly always), else with each byte that is not written `\\xNN`. A name is
    bytes on POSIX, and Python holds the bytes that are not UTF-8 as lone surrogates,
    which no terminal, JSON reader, SQLite text or Arrow string accepts."""
    text = str(path)
    return text if is_utf8(text) else os.fsencode(text).decode("utf-8", "backslashreplace")


def is_utf8(text: str) -> bool:
    """Whether `text` can be written as UTF-8 (a name read from a file system holds lone
    surrogates where its bytes are not UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
