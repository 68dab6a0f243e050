"""Perceptual hashes in the formats hash exchanges use: PDQ per sampled frame, and vPDQ
(PDQ of every frame, as Facebook's vpdq computes it).

PDQ is our numba build of Facebook's C++ PDQ (`extractors.pdq`: the same bits, faster).
vPDQ is computed on our own decode (the frames every other extractor shares) at native
size, which gives the reference `vpdq` tool's hashes: hashing downscaled frames changes
them. Hex strings are the exchange format: 64 hex digits, most significant bit first.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from videolearn.extractors.base import (
    Extractor,
    ExtractorPass,
    Sampling,
    Signal,
    ValueSignal,
    VideoContext,
)
from videolearn.ingest.decode import FrameBatch, FrameSampling, MediaChunk
from videolearn.types import TimeSpan

# Frames are never scaled up, so this width means "native size".
NATIVE_WIDTH_PX = 1 << 16
# The reference photo hasher shrinks pictures to at most 512 px before PDQ.
PDQ_MAX_SIDE_PX = 512


def hamming_hex(a: str, b: str) -> int:
    """Bits that differ between two hashes given as hex."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


class VpdqExtractor(Extractor):
    """vPDQ: the PDQ hash and quality of every frame, at native size."""

    name = "vpdq"
    version = 1
    signal_type = ValueSignal
    sampling = Sampling(frames=FrameSampling(None, NATIVE_WIDTH_PX))

    def begin(self, video: VideoContext) -> ExtractorPass:
        return _HashPass(self, self.name, video.frame_s)


class VpdqCroppedExtractor(VpdqExtractor):
    """vPDQ of every frame after cutting off uniform borders (letterbox, pillarbox,
    padding): a second, border-robust signal beside the exchange-compatible vPDQ, which
    stays exactly as the reference computes it."""

    name = "vpdq_cropped"
    version = 1


class VpdqTilesExtractor(VpdqExtractor):
    """PDQ of the four quadrants of every frame, after cutting uniform borders: a logo or
    caption laid over part of the picture spoils one or two quadrants and leaves the rest
    matching. A third, videolearn-only signal beside vPDQ and its border-robust form."""

    name = "vpdq_tiles"
    version = 1


class _WholeFrameHashes:
    """vpdq's (hash, quality) per frame of the batch it hashed last: the passes of a chunk
    run in order (vpdq before vpdq_cropped), and a frame without borders need not be
    hashed twice. Known only for that very batch object."""

    def __init__(self) -> None:
        self._last: tuple[weakref.ref[FrameBatch], list[tuple[bytes, int]]] | None = None

    def put(self, batch: FrameBatch, hashes: list[tuple[bytes, int]]) -> None:
        self._last = (weakref.ref(batch), hashes)

    def get(self, batch: FrameBatch) -> list[tuple[bytes, int]] | None:
        last = self._last
        return last[1] if last is not None and last[0]() is batch else None


_whole_frame_hashes = _WholeFrameHashes()


def crop_uniform_borders(image: np.ndarray, tolerance: float = 10.0) -> np.ndarray:
    """Cut rows and columns of one flat colour off the edges of an (H, W, 3) picture.

    A row (or column) is border while every pixel in it stays within `tolerance` of the
    line's median luma; at most 40% of each dimension goes from either side.
    """
    from videolearn.extractors.pdq import uniform_borders

    h, w = image.shape[:2]
    top, bottom, left, right = uniform_borders(np.ascontiguousarray(image), tolerance)
    return image[top : h - bottom, left : w - right]


def quadrants(image: np.ndarray) -> list[np.ndarray]:
    """Top left, top right, bottom left, bottom right of a picture."""
    h, w = image.shape[:2]
    rows, cols = ((0, h // 2), (h // 2, h)), ((0, w // 2), (w // 2, w))
    return [image[r0:r1, c0:c1] for r0, r1 in rows for c0, c1 in cols]


class PdqExtractor(Extractor):
    """PDQ of one frame a second, shrunk to at most 512 px like the photo hasher."""

    name = "pdq"
    version = 1
    signal_type = ValueSignal
    sampling = Sampling(frames=FrameSampling(1.0, PDQ_MAX_SIDE_PX))

    def begin(self, video: VideoContext) -> ExtractorPass:
        return _HashPass(self, "pdq", 1.0)


class _HashPass(ExtractorPass):
    """Hashes each frame of the extractor's sampling as it arrives.

    Values: `frame,quality,hex` with the frame's number in the sampling; the span starts
    at the frame's time.
    """

    def __init__(self, extractor: Extractor, kind: str, frame_s: float) -> None:
        self.extractor = extractor
        self.kind = kind
        self.frame_s = frame_s
        self.number = 0

    def feed(self, chunk: MediaChunk) -> Iterable[Signal]:
        from videolearn.extractors.pdq import hash_pictures

        batch = self.extractor.frames_of(chunk)
        if batch is None:
            return []
        threads = self.extractor.settings.match.hash_threads
        if self.kind == "vpdq_cropped":
            hashes = self._cropped_hashes(batch)
        else:
            hashes = hash_pictures(batch.frames, threads, self._prepare)
            if self.kind == "vpdq":
                _whole_frame_hashes.put(batch, [found[0] for found in hashes])
        out: list[Signal] = []
        for found, t in zip(hashes, batch.times_s, strict=True):
            span = TimeSpan(float(t), float(t) + self.frame_s)
            for tile, (digest, quality) in enumerate(found):
                value = f"{self.number},{quality},{digest.hex()}"
                if self.tiled:  # tiles carry their quadrant: `frame,quality,hex,tile`
                    value += f",{tile}"
                out.append(ValueSignal(span, self.kind, value))
            self.number += 1
        return out

    def _cropped_hashes(self, batch: FrameBatch) -> list[list[tuple[bytes, int]]]:
        """vPDQ after cutting borders; a frame without borders is the frame vpdq hashed."""
        from videolearn.extractors.pdq import hash_pictures

        threads = self.extractor.settings.match.hash_threads
        crops = [crop_uniform_borders(frame) for frame in batch.frames]
        known = _whole_frame_hashes.get(batch)
        if known is None:  # vpdq is not enabled
            return hash_pictures(crops, threads)
        cut = [
            i
            for i, (c, f) in enumerate(zip(crops, batch.frames, strict=True))
            if c.shape != f.shape
        ]
        hashed = dict(zip(cut, hash_pictures([crops[i] for i in cut], threads), strict=True))
        return [hashed.get(i, [known[i]]) for i in range(len(crops))]

    @property
    def tiled(self) -> bool:
        return self.kind == "vpdq_tiles"

    def _prepare(self, frame: np.ndarray) -> Sequence[np.ndarray]:
        if self.kind == "pdq" and max(frame.shape[:2]) > PDQ_MAX_SIDE_PX:
            return [_shrink(frame, PDQ_MAX_SIDE_PX)]
        if self.tiled:
            return quadrants(crop_uniform_borders(frame))
        return [frame]

    def finish(self, end_s: float, earlier: Mapping[str, Sequence[Signal]]) -> Iterable[Signal]:
        return []


def _shrink(image: np.ndarray, max_side_px: int) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    scale = max_side_px / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def parse_hash_value(value: str) -> tuple[int, int, str, int]:
    """(frame, quality, hex, tile) from a stored pdq/vpdq value (tile 0 but for tiles)."""
    frame, quality, digest, *tile = value.split(",")
    return int(frame), int(quality), digest, int(tile[0]) if tile else 0
