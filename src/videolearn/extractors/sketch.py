"""Picture sketches: a 32 x 32 grey miniature of the picture four times a second, borders cut
off, for telling copies apart from other videos (`apps.copies`).

vPDQ says "the same picture" only while the frame is the same frame: a crop of a tenth
of each side, a mirror image or a large logo leaves few frames within its distance
(`../shared/NOTES.md`: a pure crop shares 0%). A miniature keeps the picture's layout,
which those edits leave in place: compared at a few scales and both ways round, with
the cells a logo covers left out, copies made with the usual edits agree at 0.96 or
more, unrelated footage at 0.77 or less (measured on the shared videos). Four a
second, because a copy cut at another instant is sampled at other instants: at two a
second, a cut of the chair video matched 76% of its frames during quick motion, at four
99%. The frames come from the decode every extractor shares, scaled to 128 px.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence

import cv2
import numpy as np

from videolearn.extractors.base import (
    Extractor,
    ExtractorPass,
    Sampling,
    Signal,
    ValueSignal,
    VideoContext,
)
from videolearn.extractors.hashes import crop_uniform_borders
from videolearn.ingest.decode import FrameSampling, MediaChunk
from videolearn.types import TimeSpan

SKETCH_SIDE = 32
SKETCH_FPS = 4.0
KEYS_KIND = "sketch_keys"
# Key sketches per video, spread evenly over its pictures (flat ones left out): what the
# whole library is searched by for a video's copies, before its sketches are read.
KEY_SKETCHES = 8
# A sketch whose grey values spread less than this is flat (a black or one-colour frame).
FLAT_STD = 3.0
# Wide enough to find borders and draw 32 cells; scaling down further is cheaper.
SKETCH_WIDTH_PX = 128


def sketch_of(image: np.ndarray) -> np.ndarray:
    """(32, 32) uint8 grey miniature of an (H, W, 3) RGB picture without its borders."""
    picture = np.ascontiguousarray(crop_uniform_borders(np.ascontiguousarray(image)))
    grey = cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY)
    size = (SKETCH_SIDE, SKETCH_SIDE)
    return np.asarray(cv2.resize(grey, size, interpolation=cv2.INTER_AREA), np.uint8)


def encode_sketch(sketch: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(sketch, np.uint8).tobytes()).decode("ascii")


def decode_sketch(value: str) -> np.ndarray:
    """(32, 32) uint8 from a stored value."""
    raw = np.frombuffer(base64.b64decode(value), np.uint8)
    return raw.reshape(SKETCH_SIDE, SKETCH_SIDE)


def encode_keys(keys: np.ndarray) -> str:
    """A stored value of (K, 32, 32) uint8 key sketches."""
    return encode_sketch(keys)


def decode_keys(value: str) -> np.ndarray:
    """(K, 32, 32) uint8 key sketches from a stored value."""
    raw = np.frombuffer(base64.b64decode(value), np.uint8)
    return raw.reshape(-1, SKETCH_SIDE, SKETCH_SIDE)


class SketchExtractor(Extractor):
    """A grey 32 x 32 miniature of the borderless picture, 4 frames a second, and the
    video's key sketches (`sketch_keys`, one value over the whole video)."""

    name = "sketch"
    version = 1
    signal_type = ValueSignal

    sampling = Sampling(frames=FrameSampling(SKETCH_FPS, SKETCH_WIDTH_PX))

    def begin(self, video: VideoContext) -> ExtractorPass:
        return _SketchPass(self, video.frame_s)


class _SketchPass(ExtractorPass):
    """Each sketch spans the one frame it was drawn from."""

    def __init__(self, extractor: SketchExtractor, frame_s: float) -> None:
        self.extractor = extractor
        self.frame_s = frame_s
        self.drawn: list[np.ndarray] = []  # the pictures' sketches so far (1 KB each)

    def feed(self, chunk: MediaChunk) -> Iterable[Signal]:
        batch = self.extractor.frames_of(chunk)
        if batch is None:
            return ()
        out: list[Signal] = []
        for f, t in zip(batch.frames, batch.times_s, strict=True):
            sketch = sketch_of(f)
            if float(sketch.std()) >= FLAT_STD:
                self.drawn.append(sketch)
            span = TimeSpan(float(t), float(t) + self.frame_s)
            out.append(ValueSignal(span, "sketch", encode_sketch(sketch)))
        return out

    def finish(self, end_s: float, earlier: Mapping[str, Sequence[Signal]]) -> Iterable[Signal]:
        if not self.drawn:
            return ()
        count = len(self.drawn)
        picks = np.unique(np.linspace(0, count - 1, min(count, KEY_SKETCHES)).round().astype(int))
        keys = np.stack([self.drawn[i] for i in picks])
        return [ValueSignal(TimeSpan(0.0, max(end_s, 0.0)), KEYS_KIND, encode_keys(keys))]
