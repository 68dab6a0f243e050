"""The extractor interface and the signal types extractors emit.

An extractor declares `name`, `version`, `signal_type` and `sampling` as class attributes,
is cheap to construct, loads weights lazily in `load()`, and for each video opens a pass
(`begin`) that is fed decoded chunks in time order and finished once. The runner decodes
each file once and feeds every extractor's pass from that one decode; `extract` runs a
single extractor over already decoded chunks, for tests and one-off use.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ValidationError

from videolearn.config import Settings
from videolearn.errors import ExtractorError
from videolearn.ingest.decode import FrameBatch, FrameSampling, MediaChunk
from videolearn.ingest.scan import FileIdentity
from videolearn.types import MediaInfo, TimeSpan

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class Modality(StrEnum):
    """The channel a moment was found in. Plug-ins may use names of their own (a plain
    string of `NAME_PATTERN`'s form); these are the built-in extractors'."""

    SHOT = "shot"
    SPEECH = "speech"
    TEXT = "text"  # on screen
    SOUND = "sound"
    VISUAL = "visual"  # a frame, found by what it shows (CLIP)
    NUDITY = "nudity"


@dataclass(frozen=True)
class Moment:
    """Something found at a time: a shot, a phrase, a sound. `modality` names the channel
    (a `Modality`); `attrs` holds what else the extractor knows (JSON-serialisable: a
    language, words)."""

    span: TimeSpan
    modality: str
    label: str = ""
    text: str = ""
    score: float = 1.0
    attrs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ValueSignal:
    """A value computed over a span: a digest, a hash, a JSON description."""

    span: TimeSpan
    kind: str
    value: str


@dataclass(frozen=True)
class Thumbnail:
    """A small JPEG picture standing for a span."""

    span: TimeSpan
    jpeg: bytes
    width_px: int
    height_px: int


@dataclass(frozen=True, eq=False)
class Embedding:
    """A feature vector standing for a span: what a learned model saw or heard there.
    `model` names the weights that made it (vectors from different weights do not compare)."""

    span: TimeSpan
    kind: str
    vector: np.ndarray  # (dim,) float32
    model: str

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Embedding)
            and (self.span, self.kind, self.model) == (other.span, other.kind, other.model)
            # A text vector's text too.
            and getattr(self, "text", None) == getattr(other, "text", None)
            and np.array_equal(self.vector, other.vector)
        )

    __hash__ = None  # type: ignore[assignment]


# Text vectors have one size, so that they can sit in a fixed-size vector column.
TEXT_VECTOR_DIM = 384


@dataclass(frozen=True, eq=False)
class TextEmbedding(Embedding):
    """A multilingual vector of a text moment (speech, on-screen text, a sound's label),
    `TEXT_VECTOR_DIM` long: stored apart from other vectors, for vector search, with the
    text it stands for (so that a vector hit needs no look-up)."""

    text: str = ""

    def __post_init__(self) -> None:
        if self.vector.shape != (TEXT_VECTOR_DIM,):
            raise ValueError(f"a text vector has {TEXT_VECTOR_DIM} values, not {self.vector.shape}")


Signal = Moment | ValueSignal | Thumbnail | Embedding | TextEmbedding


@dataclass(frozen=True)
class Sampling:
    """What an extractor needs decoded: frames at some rate and size, and/or 16 kHz audio.

    An extractor that needs neither works from the file's identity and probe alone.
    """

    frames: FrameSampling | None = None
    audio: bool = False


@dataclass(frozen=True)
class VideoContext:
    """The video an extractor pass works on."""

    video_id: str
    path: Path
    info: MediaInfo
    identity: FileIdentity

    @property
    def frame_s(self) -> float:
        """How long one frame shows (0 when the video has no frame rate)."""
        fps = self.info.video.average_fps if self.info.video else None
        return 1.0 / fps if fps else 0.0


class ExtractorPass(ABC):
    """One extractor's work on one video."""

    def feed(self, chunk: MediaChunk) -> Iterable[Signal]:
        """Take the next decoded chunk; may yield signals already complete."""
        return ()

    @abstractmethod
    def finish(self, end_s: float, earlier: Mapping[str, Sequence[Signal]]) -> Iterable[Signal]:
        """No more chunks. `end_s` is where decoding ended; `earlier` holds the signals of
        the extractors named in `needs`, and of those in `reads` that ran."""


class Extractor(ABC):
    """Base of every extractor. Subclasses set the class attributes below."""

    name: ClassVar[str]
    version: ClassVar[int]
    signal_type: ClassVar[
        type[Moment] | type[ValueSignal] | type[Thumbnail] | type[Embedding] | type[TextEmbedding]
    ]
    sampling: Sampling = Sampling()
    # What besides `version` decides the output, such as the weights a learned extractor
    # loads; when it changes, stored output is stale and videos are indexed again.
    revision: str = ""
    # Names of extractors whose signals this one reads in `finish`: `needs` must be
    # enabled with it, `reads` are read when they are.
    needs: ClassVar[tuple[str, ...]] = ()
    reads: ClassVar[tuple[str, ...]] = ()
    # The model runtime this extractor loads ("ctranslate2", "onnxruntime", "torch", ...).
    # In an index run the extractors of one family share a worker process, each family
    # its own (`extractors.processes`); "" runs in the index process itself.
    family: ClassVar[str] = ""
    # A plug-in's own settings: a pydantic model read from `[plugins.NAME]` in the TOML
    # file (or `VIDEOLEARN_PLUGINS__NAME__FIELD`); see `plugin_options`.
    options_model: ClassVar[type[BaseModel] | None] = None

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @classmethod
    def installed(cls) -> bool:
        """Whether what this extractor imports is installed (an optional extra, say); one
        that is not is not listed among the available extractors."""
        return True

    def plugin_options(self) -> BaseModel:
        """This extractor's own settings (`options_model`) from `[plugins.NAME]`.

        Raises:
            ExtractorError: the section does not fit the model, or there is no model.
        """
        if self.options_model is None:
            raise ExtractorError(f"extractor {self.name} declares no options_model")
        raw = self.settings.plugins.get(self.name, {})
        try:
            return self.options_model.model_validate(raw)
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()
            )
            raise ExtractorError(
                f"extractor {self.name}: settings [plugins.{self.name}] are not valid: {problems}"
            ) from None

    @classmethod
    def configured(cls, settings: Settings) -> bool:
        """Whether the settings give this extractor what it needs to run (a model the
        user supplies, say); one that is not runs only when named in `extractors`."""
        return True

    def load(self) -> None:  # noqa: B027  an optional hook, empty by default
        """Load models or other heavy state; called once before the first `begin`."""

    @abstractmethod
    def begin(self, video: VideoContext) -> ExtractorPass:
        """Start a pass over one video."""

    def frames_of(self, chunk: MediaChunk) -> FrameBatch | None:
        """This extractor's frames in a chunk, if it asked for frames and the chunk has some."""
        if self.sampling.frames is None:
            return None
        return chunk.frames.get(self.sampling.frames)

    def extract(
        self,
        video: VideoContext,
        chunks: Iterable[MediaChunk],
        end_s: float,
        earlier: Mapping[str, Sequence[Signal]] | None = None,
    ) -> Iterator[Signal]:
        """Run one pass over already decoded chunks and yield every signal."""
        work = self.begin(video)
        for chunk in chunks:
            yield from work.feed(chunk)
        yield from work.finish(end_s, earlier or {})


def describe_failure(extractor_name: str, err: Exception) -> str:
    """The sentence a file fails with when an extractor raised `err` on it."""
    if isinstance(err, ExtractorError):
        return str(err)
    return f"extractor {extractor_name} failed: {type(err).__name__}: {err}"
