"""Synthetic videos as `index` would store them, for the benchmarks that need a large
library written through the store's own write path (`recommend.py`, `store_growth.py`).

Each video: two av_embed vectors per shot (3 shots of 10 s), a text vector, two sound
labels of 30, a caption of 6 words from a 2,000-word vocabulary, an MD5, a fingerprint (a
30 s stretch of one of `song_count` "songs" (1,000), random items, so that songs repeat
across videos), and the copy rule's sketches (4 a second, and 8 key sketches). One video in 50 is a
re-encoded copy of the one before (its sketches with noise). Vectors lie around one of 50
topics.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from videolearn.extractors.base import Embedding, Moment, TextEmbedding, ValueSignal
from videolearn.extractors.fingerprint import ITEM_S, KIND
from videolearn.extractors.sketch import (
    KEY_SKETCHES,
    KEYS_KIND,
    SKETCH_FPS,
    encode_keys,
    encode_sketch,
)
from videolearn.store import ExtractorOutput
from videolearn.store.tables import VideoRow
from videolearn.types import TimeSpan

MODEL = "bench.pt:0"
LABELS = [f"Sound{n}" for n in range(30)]


def synthetic_id(n: int) -> str:
    """The id of the `n`-th synthetic video."""
    return hashlib.sha256(str(n).encode()).hexdigest()


def _unit(rng: np.random.Generator, centre: np.ndarray, noise: float) -> np.ndarray:
    v = centre + noise * rng.normal(size=centre.size)
    return (v / np.linalg.norm(v)).astype(np.float32)


def _fingerprint_value(items: np.ndarray) -> str:
    import chromaprint

    return bytes(chromaprint.encode_fingerprint(items.astype(np.int32).tolist(), 1)).decode()


def _footage(rng: np.random.Generator, count: int) -> np.ndarray:
    """(count, 32, 32) sketches of a moving picture: a random image drifting sideways."""
    base = rng.integers(0, 256, (32, 96)).astype(np.uint8)
    return np.stack([base[:, k // 4 : k // 4 + 32] for k in range(count)])


@dataclass
class SyntheticVideos:
    """A source of synthetic videos; `video(n)` is the n-th (call them in order: a copy
    is of the video drawn before it)."""

    rng: np.random.Generator
    song_count: int = 1000
    topics: np.ndarray = field(init=False)
    text_topics: np.ndarray = field(init=False)
    songs: np.ndarray = field(init=False)
    vocabulary: list[str] = field(init=False)
    pictures: np.ndarray = field(init=False)
    items: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.topics = self.rng.normal(size=(50, 128))
        self.text_topics = self.rng.normal(size=(50, 384))
        self.songs = self.rng.integers(
            0, 2**32, size=(self.song_count, 400), dtype=np.uint64
        ).astype(np.uint32)
        self.vocabulary = [f"w{n:04d}" for n in range(2000)]
        self.pictures = np.zeros((round(30 * SKETCH_FPS), 32, 32), np.uint8)
        self.items = self.songs[0, : round(30 / ITEM_S)]

    def video(self, n: int) -> tuple[VideoRow, list[ExtractorOutput]]:
        """The `n`-th video (its id and path are fixed by `n`; its content is drawn)."""
        rng = self.rng
        video_id = synthetic_id(n)
        topic = int(rng.integers(50))
        shots = [TimeSpan(10.0 * k, 10.0 * (k + 1)) for k in range(3)]
        vectors = [
            Embedding(span, kind, _unit(rng, self.topics[topic], 0.8), MODEL)
            for span in shots
            for kind in ("av_video", "av_audio")
        ]
        words = " ".join(rng.choice(self.vocabulary, 6))
        if n % 50 == 1:  # a re-encoded copy of the video before
            noise = rng.integers(-4, 5, self.pictures.shape)
            self.pictures = np.clip(self.pictures + noise, 0, 255).astype(np.uint8)
        else:
            start_item = int(rng.integers(0, 150))
            song = self.songs[int(rng.integers(self.song_count))]
            self.items = song[start_item : start_item + round(30 / ITEM_S)]
            self.pictures = _footage(rng, len(self.pictures))
        sketches = [
            ValueSignal(TimeSpan(k / SKETCH_FPS, (k + 1) / SKETCH_FPS), "sketch", encode_sketch(p))
            for k, p in enumerate(self.pictures)
        ]
        at = np.linspace(0, len(self.pictures) - 1, KEY_SKETCHES).round().astype(int)
        sketches.append(ValueSignal(TimeSpan(0, 30), KEYS_KIND, encode_keys(self.pictures[at])))
        labels = rng.choice(LABELS, 2, replace=False)
        text_vector = _unit(rng, self.text_topics[topic], 0.8)
        outputs = [
            ExtractorOutput("file_hash", 1, [ValueSignal(shots[0], "md5", video_id[:32])]),
            ExtractorOutput("av_embed", 1, vectors, revision=MODEL),
            ExtractorOutput(
                "ocr", 1, [Moment(shots[0], "text", text=words, attrs={"language": "en"})]
            ),
            ExtractorOutput(
                "sounds",
                1,
                [Moment(shots[1], "sound", label=str(label), score=0.6) for label in labels],
            ),
            ExtractorOutput(
                "text_embed", 2, [TextEmbedding(shots[0], "e5_text", text_vector, "e5", words)]
            ),
            ExtractorOutput(
                "fingerprint",
                1,
                [ValueSignal(TimeSpan(0, 30), KIND, _fingerprint_value(self.items))],
            ),
            ExtractorOutput("sketch", 1, sketches),
        ]
        return VideoRow(video_id, f"/bench/{n:06d}.mp4", duration_s=30.0), outputs
