"""What the store keeps, table by table: each signal type's table next to that type, with
its Arrow schema, the frozen row a reader gets back and how a signal becomes a row.

Rows cross into `apps/` as these dataclasses, never as dicts, so that a reader sees what a
table holds from its type. Adding a signal type is one `SignalTable` here; the store
writes, reads and deletes every table in `SIGNAL_TABLES` the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Generic, TypeVar

import pyarrow as pa

from videolearn.extractors.base import (
    TEXT_VECTOR_DIM,
    Embedding,
    Moment,
    Signal,
    TextEmbedding,
    Thumbnail,
    ValueSignal,
)
from videolearn.types import TimeSpan


@dataclass(frozen=True)
class VideoRow:
    """A stored video: its file, its probe and decode, and which extractors made its rows.

    `extractors` maps an extractor's name to its version (with ":revision" when the
    extractor loads weights that have one); the store fills it in when it writes.
    """

    video_id: str
    path: str = ""
    size_bytes: int | None = None
    duration_s: float | None = None
    container: str | None = None
    width_px: int | None = None
    height_px: int | None = None
    rotation_deg: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    audio_sample_rate_hz: int | None = None
    frames_decoded: int | None = None
    corrupt_packets: int | None = None
    extractors: Mapping[str, int | str] = field(default_factory=dict)

    def to_arrow(self) -> dict[str, Any]:
        """The row as the `videos` table takes it."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["extractors"] = json.dumps(dict(self.extractors), sort_keys=True)
        return out

    @classmethod
    def from_arrow(cls, row: Mapping[str, Any]) -> VideoRow:
        values: dict[str, Any] = {f.name: row.get(f.name) for f in fields(cls)}
        values["path"] = values["path"] or ""
        values["extractors"] = json.loads(row.get("extractors") or "{}")
        return cls(**values)


VIDEOS = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("path", pa.string()),
        pa.field("size_bytes", pa.int64()),
        pa.field("duration_s", pa.float64()),
        pa.field("container", pa.string()),
        pa.field("width_px", pa.int32()),
        pa.field("height_px", pa.int32()),
        pa.field("rotation_deg", pa.int32()),
        pa.field("fps", pa.float64()),
        pa.field("video_codec", pa.string()),
        pa.field("audio_codec", pa.string()),
        pa.field("audio_sample_rate_hz", pa.int32()),
        pa.field("frames_decoded", pa.int64()),
        pa.field("corrupt_packets", pa.int32()),
        # JSON object: extractor name -> version tag (see VideoRow.extractors).
        pa.field("extractors", pa.string()),
    ]
)


@dataclass(frozen=True)
class SpanRow:
    """What every derived row has: a stable key, its video, the extractor that made it
    and the span of the video it describes."""

    # "VIDEO_ID:EXTRACTOR:VERSION:N": the same extractor version on the same video gives
    # the same keys, so writing a video again gives the same rows.
    key: str
    video_id: str
    extractor: str
    extractor_version: int
    start_s: float
    end_s: float

    @property
    def span(self) -> TimeSpan:
        return TimeSpan(self.start_s, self.end_s)


@dataclass(frozen=True)
class MomentRow(SpanRow):
    """A stored `Moment`: speech, on-screen text, a sound, a shot."""

    modality: str
    label: str
    text: str
    score: float
    attrs: Mapping[str, Any]

    @property
    def language(self) -> str | None:
        """The language of a speech moment (an ISO 639 code), when it has one."""
        language = self.attrs.get("language")
        return str(language) if language else None

    def sure_text(self, floor: float) -> str:
        """The text without the words its recogniser gave a probability under `floor`
        (speech's words carry one; other text is kept whole)."""
        words = self.attrs.get("words")
        if not words:
            return self.text
        return " ".join(
            str(w["word"]).strip() for w in words if float(w.get("probability", 1.0)) >= floor
        )


@dataclass(frozen=True)
class SignalRow(SpanRow):
    """A stored `ValueSignal`: a hash or a checksum."""

    kind: str
    value: str


@dataclass(frozen=True)
class ThumbnailRow(SpanRow):
    width_px: int
    height_px: int
    jpeg: bytes


@dataclass(frozen=True)
class EmbeddingRow(SpanRow):
    """A stored learned vector (one size per model)."""

    kind: str
    model: str
    vector: tuple[float, ...]


@dataclass(frozen=True)
class TextVectorRow(SpanRow):
    """A stored text vector, and the text it stands for ("" in rows written before the
    text was kept)."""

    kind: str
    model: str
    vector: tuple[float, ...]
    text: str


S = TypeVar("S", bound=Signal)
R = TypeVar("R", bound=SpanRow)

_SPAN_FIELDS = [
    pa.field("key", pa.string(), nullable=False),
    pa.field("video_id", pa.string(), nullable=False),
    pa.field("extractor", pa.string()),
    pa.field("extractor_version", pa.int32()),
    pa.field("start_s", pa.float64()),
    pa.field("end_s", pa.float64()),
]


@dataclass(frozen=True)
class SignalTable(Generic[S, R]):
    """One signal type's table: its name, schema and row type, the columns a signal fills
    beside the span fields, and the scalar indexes searches filter it by."""

    name: str
    signal_type: type[S]
    row_type: type[R]
    columns: tuple[pa.Field, ...]
    to_columns: Callable[[S], dict[str, Any]]
    indexes: tuple[tuple[str, str], ...] = ()
    # Stored values that need turning back into the row's types (JSON, lists).
    from_columns: Callable[[dict[str, Any]], dict[str, Any]] = lambda values: values

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([*_SPAN_FIELDS, *self.columns])

    def read(self, row: Mapping[str, Any]) -> R:
        """A row read back from the table (columns not in the row type are dropped)."""
        values = {f.name: row.get(f.name) for f in fields(self.row_type)}
        return self.row_type(**self.from_columns(values))


def _attrs_json(attrs: Mapping[str, Any]) -> str:
    # Sorted keys: `language` comes first, which a language filter relies on.
    return json.dumps(dict(attrs), sort_keys=True, ensure_ascii=False)


def _moment_columns(m: Moment) -> dict[str, Any]:
    return {
        "modality": m.modality,
        "label": m.label,
        "text": m.text,
        "score": m.score,
        "attrs": _attrs_json(m.attrs),
    }


def _moment_values(values: dict[str, Any]) -> dict[str, Any]:
    return values | {
        "label": values["label"] or "",
        "text": values["text"] or "",
        "score": float(values["score"] if values["score"] is not None else 1.0),
        "attrs": json.loads(values["attrs"] or "{}"),
    }


def _vector_values(values: dict[str, Any]) -> dict[str, Any]:
    out = values | {"vector": tuple(values["vector"] or ())}
    if "text" in out:
        out["text"] = out["text"] or ""
    return out


MOMENTS: SignalTable[Moment, MomentRow] = SignalTable(
    "moments",
    Moment,
    MomentRow,
    (
        pa.field("modality", pa.string()),
        pa.field("label", pa.string()),
        pa.field("text", pa.string()),
        pa.field("score", pa.float32()),
        # JSON object of the moment's other attributes (language, words, ...).
        pa.field("attrs", pa.string()),
    ),
    _moment_columns,
    indexes=(("video_id", "btree"), ("modality", "bitmap")),
    from_columns=_moment_values,
)
SIGNALS: SignalTable[ValueSignal, SignalRow] = SignalTable(
    "signals",
    ValueSignal,
    SignalRow,
    (pa.field("kind", pa.string()), pa.field("value", pa.string())),
    lambda s: {"kind": s.kind, "value": s.value},
    indexes=(("video_id", "btree"), ("kind", "bitmap")),
)
THUMBNAILS: SignalTable[Thumbnail, ThumbnailRow] = SignalTable(
    "thumbnails",
    Thumbnail,
    ThumbnailRow,
    (
        pa.field("width_px", pa.int32()),
        pa.field("height_px", pa.int32()),
        pa.field("jpeg", pa.binary()),
    ),
    lambda t: {"width_px": t.width_px, "height_px": t.height_px, "jpeg": t.jpeg},
)
EMBEDDINGS: SignalTable[Embedding, EmbeddingRow] = SignalTable(
    "embeddings",
    Embedding,
    EmbeddingRow,
    (
        pa.field("kind", pa.string()),
        pa.field("model", pa.string()),
        pa.field("vector", pa.list_(pa.float32())),
    ),
    lambda e: {"kind": e.kind, "model": e.model, "vector": e.vector.tolist()},
    indexes=(("video_id", "btree"), ("kind", "bitmap")),
    from_columns=_vector_values,
)
# Text vectors (one size) apart from the learned vectors (one size per model): LanceDB
# wants the vectors of a column to be of one size, and search wants a fixed-size column.
TEXT_VECTORS: SignalTable[TextEmbedding, TextVectorRow] = SignalTable(
    "text_vectors",
    TextEmbedding,
    TextVectorRow,
    (
        pa.field("kind", pa.string()),
        pa.field("model", pa.string()),
        pa.field("vector", pa.list_(pa.float32(), TEXT_VECTOR_DIM)),
        # The text the vector stands for (a sound's label); null in rows written before it.
        pa.field("text", pa.string()),
    ),
    lambda e: {"kind": e.kind, "model": e.model, "vector": e.vector.tolist(), "text": e.text},
    indexes=(("video_id", "btree"), ("kind", "bitmap")),
    from_columns=_vector_values,
)

SIGNAL_TABLES: tuple[SignalTable[Any, Any], ...] = (
    MOMENTS,
    SIGNALS,
    THUMBNAILS,
    EMBEDDINGS,
    TEXT_VECTORS,
)
ROW_TYPES: tuple[type[SpanRow], ...] = tuple(t.row_type for t in SIGNAL_TABLES)
_BY_SIGNAL = {t.signal_type: t for t in SIGNAL_TABLES}
_BY_ROW = {t.row_type: t for t in SIGNAL_TABLES}


def table_of_signal(signal: Signal) -> SignalTable[Any, Any]:
    """The table a signal is stored in: its own type's, else its nearest base type's
    (a `TextEmbedding` is an `Embedding`, but has a table of its own).

    Raises:
        TypeError: no table stores this kind of signal.
    """
    for cls in type(signal).__mro__:
        table = _BY_SIGNAL.get(cls)
        if table is not None:
            return table
    raise TypeError(f"no table stores {type(signal).__name__} signals")


def table_of_row(row_type: type[R]) -> SignalTable[Any, R]:
    """The table whose rows are of `row_type`."""
    return _BY_ROW[row_type]


# -- what searches return -------------------------------------------------------------


@dataclass(frozen=True)
class TextHit:
    """A moment found by its text: the moment without its attrs, and its BM25 score."""

    video_id: str
    start_s: float
    end_s: float
    modality: str
    label: str
    text: str
    bm25: float

    @property
    def span(self) -> TimeSpan:
        return TimeSpan(self.start_s, self.end_s)


@dataclass(frozen=True)
class VectorHit:
    """A text vector near a query, and its cosine distance (0 the same direction)."""

    video_id: str
    start_s: float
    end_s: float
    kind: str
    model: str
    text: str
    distance: float
    # The mean and standard deviation of the vector's cosine similarity to the background
    # queries the search passed, when it passed some: what this text scores for anything.
    background: tuple[float, float] | None = None

    @property
    def span(self) -> TimeSpan:
        return TimeSpan(self.start_s, self.end_s)


@dataclass(frozen=True)
class VectorPlace:
    """Where a row of an embedding matrix comes from."""

    video_id: str
    start_s: float
    end_s: float

    @property
    def span(self) -> TimeSpan:
        return TimeSpan(self.start_s, self.end_s)
