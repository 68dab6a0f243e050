"""Audio fingerprints: Chromaprint over the decoded 16 kHz sound, for "same audio track".

Chromaprint (the fingerprint behind AcoustID and `fpcalc`) turns sound into one 32-bit
item every 4096/3 samples at 11,025 Hz (0.124 s), each summarising about 2.5 s of chroma
around it: the same recording gives nearly the same items however it was re-encoded,
turned up or down, or laid under other pictures. The value stored is Chromaprint's own
compressed, base64 form (what `fpcalc` prints), so a fingerprint can be exchanged as it
is; `decode` gives the items back. Comparing fingerprints is `apps.sound`'s.

The last item of a plain fingerprint sums up the last ~2.5 s of the sound, so nothing in
it tells whether a shared song runs to the file's end or stops just before it (a song
ending 2.6 s before one file's end was said to run to that end). The sound is therefore
followed by one item's window of digital silence before the fingerprint is finished:
the items over the sound's last seconds then fade out as the silence enters their
window. Silence gives one item value of its own (`SILENCE_ITEM`), which votes for
nothing. The value stays a valid Chromaprint fingerprint (of the sound and the silence).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from videolearn.extractors.base import (
    Extractor,
    ExtractorPass,
    Sampling,
    Signal,
    ValueSignal,
    VideoContext,
)
from videolearn.ingest.decode import MediaChunk
from videolearn.types import TimeSpan

KIND = "chromaprint"
# Chromaprint's default algorithm (TEST2): 4096-sample frames every third of a frame, at
# 11,025 Hz.
ITEM_S = 4096 / 3 / 11_025
# An item summarises frames i .. i + 16 (its classifiers' widest filter) of 0.37 s each.
ITEM_WINDOW_S = 16 * ITEM_S + 4096 / 11_025
SAMPLE_RATE_HZ = 16_000
# The item Chromaprint gives for digital silence (its chroma is all zeros).
SILENCE_ITEM = 0x256DF977


@functools.cache
def _chromaprint() -> Any:
    """pyacoustid's binding to libchromaprint (ImportError when the library is missing)."""
    import chromaprint

    return chromaprint


def available() -> bool:
    """Whether libchromaprint can be loaded (Debian's `libchromaprint1`)."""
    try:
        _chromaprint()
    except (ImportError, OSError):
        return False
    return True


def decode(value: str) -> np.ndarray:
    """The items (uint32) of a fingerprint stored in Chromaprint's compressed form.

    Raises:
        ValueError: the value is not a Chromaprint fingerprint.
    """
    if not value:
        return np.zeros(0, np.uint32)
    cp = _chromaprint()
    try:
        items, _ = cp.decode_fingerprint(value.encode("ascii"))
    except (cp.FingerprintError, UnicodeEncodeError):
        raise ValueError(f"not a Chromaprint fingerprint: {value[:40]!r}") from None
    return np.asarray(items, dtype=np.uint32)


def fingerprint(samples: np.ndarray, rate_hz: int = SAMPLE_RATE_HZ) -> str:
    """The compressed fingerprint of mono float samples in [-1, 1], followed by a window
    of silence ("" when there are under ~2.7 s of them, the window one item sums up)."""
    work = _Fingerprinting(rate_hz)
    work.add(samples)
    return work.finish()


class _Fingerprinting:
    def __init__(self, rate_hz: int) -> None:
        self.printer = _chromaprint().Fingerprinter()
        self.printer.start(rate_hz, 1)
        self.rate_hz = rate_hz
        self.samples = 0

    def add(self, samples: np.ndarray) -> None:
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
        if pcm.size:
            self.printer.feed(pcm.tobytes())
            self.samples += pcm.size

    def finish(self) -> str:
        if self.samples < ITEM_WINDOW_S * self.rate_hz:
            return ""  # too short for one item of its own
        # One window of silence after the sound (see the module's docstring).
        pad = np.zeros(math.ceil(ITEM_WINDOW_S * self.rate_hz), "<i2")
        self.printer.feed(pad.tobytes())
        value = self.printer.finish()
        return "" if not value else bytes(value).decode("ascii")


class FingerprintExtractor(Extractor):
    """A Chromaprint fingerprint of the whole sound track, as one value over the span the
    sound covers (none for a video without sound, or with under ~2.7 s of it)."""

    name = "fingerprint"
    version = 2  # 2: followed by a window of silence
    signal_type = ValueSignal
    sampling = Sampling(audio=True)

    @classmethod
    def installed(cls) -> bool:
        return available()

    def begin(self, video: VideoContext) -> ExtractorPass:
        return _FingerprintPass()


class _FingerprintPass(ExtractorPass):
    def __init__(self) -> None:
        self.work = _Fingerprinting(SAMPLE_RATE_HZ)
        self.start_s: float | None = None

    def feed(self, chunk: MediaChunk) -> Iterable[Signal]:
        audio = chunk.audio
        if audio is not None and audio.samples.size:
            if self.start_s is None:
                self.start_s = audio.start_s
            self.work.add(audio.samples)
        return ()

    def finish(self, end_s: float, earlier: Mapping[str, Sequence[Signal]]) -> Iterable[Signal]:
        if self.start_s is None:
            return []
        value = self.work.finish()
        if not value or decode(value).size == 0:  # under ~2.7 s of sound
            return []
        span = TimeSpan(self.start_s, self.start_s + self.work.samples / SAMPLE_RATE_HZ)
        return [ValueSignal(span, KIND, value)]
