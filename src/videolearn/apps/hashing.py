"""Hashing one file for exchange: MD5 of the bytes, PDQ per sampled frame, vPDQ per frame.

Works without a library. The file goes through the same limited decode child process as
`index`, and the same extractors compute the hashes, so a file hashed here matches what
`index` stores for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videolearn.config import Settings
from videolearn.errors import OptionError
from videolearn.extractors.base import Signal, ValueSignal
from videolearn.extractors.hashes import PdqExtractor, VpdqExtractor, parse_hash_value
from videolearn.extractors.runner import extract_file
from videolearn.ingest.scan import identify
from videolearn.store.banks import FrameHash

SIGNALS = ("pdq", "vpdq", "md5")


def frame_hashes(path: Path, signal: str, settings: Settings) -> list[FrameHash]:
    """PDQ (`pdq`, one frame a second) or vPDQ (`vpdq`, every frame) hashes of a file.

    Raises:
        MediaError: the file cannot be decoded.
    """
    extractor = {"pdq": PdqExtractor, "vpdq": VpdqExtractor}[signal](settings)
    _, signals = extract_file(path, [extractor], settings)
    return to_frame_hashes(signals[extractor.name])


def to_frame_hashes(signals: Sequence[Signal]) -> list[FrameHash]:
    """The pdq/vpdq extractors' signals as frame hashes."""
    out = []
    for sig in signals:
        assert isinstance(sig, ValueSignal)
        frame, quality, digest, tile = parse_hash_value(sig.value)
        out.append(FrameHash(frame, quality, digest, sig.span.start_s, tile))
    return out


def md5_of(path: Path, settings: Settings) -> str:
    return identify(path, settings.decode.max_file_size_bytes).md5


@dataclass(frozen=True)
class FileHashes:
    """A file's hashes of one signal: its MD5, or one PDQ hash per hashed frame."""

    signal: str
    md5: str = ""
    frames: list[FrameHash] = field(default_factory=list)

    def to_json(self) -> list[dict[str, Any]]:
        """The `hash --json` lines."""
        if self.signal == "md5":
            return [{"signal": "md5", "hash": self.md5}]
        return [
            {
                "signal": self.signal,
                "frame": h.frame,
                "quality": h.quality,
                "hash": h.pdq_hex,
                "timestamp_s": h.timestamp_s,
            }
            for h in self.frames
        ]

    def to_text(self) -> list[str]:
        """The `hash` lines: the MD5, vPDQ's reference text format, or `hex,quality,time`."""
        if self.signal == "md5":
            return [self.md5]
        if self.signal == "vpdq":
            return [h.vpdq_line() for h in self.frames]
        return [f"{h.pdq_hex},{h.quality},{h.timestamp_s:.3f}" for h in self.frames]


def hash_file(path: Path, signal: str, settings: Settings) -> FileHashes:
    """A file's `pdq`, `vpdq` or `md5` hashes.

    Raises:
        OptionError: no such signal.
        MediaError: the file cannot be read or decoded.
    """
    if signal not in SIGNALS:
        raise OptionError(f"signal must be one of {', '.join(SIGNALS)}, not {signal!r}")
    if signal == "md5":
        return FileHashes("md5", md5=md5_of(path, settings))
    return FileHashes(signal, frames=frame_hashes(path, signal, settings))
