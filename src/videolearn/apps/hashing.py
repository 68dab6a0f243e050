"""Hashing one file for exchange: MD5 of the bytes, PDQ per sampled frame, vPDQ per frame.

Works without a library. The file goes through the same limited decode child process as
`index`, and the same extractors compute the hashes, so a file hashed here matches what
`index` stores for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from videolearn.config import Settings
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
