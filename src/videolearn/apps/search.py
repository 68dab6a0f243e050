"""Moment search: a text query in, timestamped moments out, from what was said, written on
screen and heard.

Two rankings of one library's moments are fused by reciprocal rank (each moment scores
1 / (60 + its rank) in every ranking it is in): BM25 over the moments' text (LanceDB's
full-text index: exact words, any language), and the cosine similarity between the query's
multilingual-e5 vector and the moments' text vectors (`text_embed`: meaning, across
languages; sound moments are found by their class names this way). Hits next to each other
in one video and one modality that both hold the query's words are merged into one moment.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from videolearn.extractors.text_embed import TextEmbedder
from videolearn.library import Library
from videolearn.types import TimeSpan

# Reciprocal rank fusion's constant (Cormack et al.): a rank's weight is 1 / (K + rank).
RRF_K = 60
# Hits of one video and modality at most this far apart are one moment.
MERGE_GAP_S = 1.0
# What each kind of text vector stands for.
VECTOR_MODALITIES = {"e5_speech": "speech", "e5_text": "text", "e5_sound": "sound"}


@dataclass(frozen=True)
class MomentHit:
    """A moment that answers a query. `scores` holds what each ranking gave it: `text`
    (BM25) and `vector` (cosine similarity), where it was found by them."""

    video_id: str
    path: str
    span: TimeSpan
    score: float
    modality: str
    snippet: str
    scores: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "video_id": self.video_id,
            "path": self.path,
            "start_s": self.span.start_s,
            "end_s": self.span.end_s,
            "score": round(self.score, 6),
            "modality": self.modality,
            "snippet": self.snippet,
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
        }


@dataclass
class _Candidate:
    video_id: str
    modality: str
    span: TimeSpan
    text: str
    fused: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)


def search_moments(  # noqa: PLR0917  the query and its filters
    library: Library,
    query: str,
    limit: int = 10,
    embedder: TextEmbedder | None = None,
    modalities: Sequence[str] = (),
    video_ids: Sequence[str] = (),
) -> list[MomentHit]:
    """The moments that best answer `query`, best first.

    Args:
        library: an opened library.
        query: words in any language.
        limit: how many moments at most.
        embedder: a loaded text embedder to reuse (one is loaded when None).
        modalities: only moments of these (`speech`, `text`, `sound`, ...).
        video_ids: only moments of these videos.
    """
    if not query.strip():
        return []
    store = library.store
    depth = max(limit * 5, 50)
    found: dict[tuple[str, str, float, float], _Candidate] = {}

    def add(ranking: str, rank: int, row: dict[str, Any], modality: str, value: float) -> None:
        key = (row["video_id"], modality, float(row["start_s"]), float(row["end_s"]))
        candidate = found.get(key)
        if candidate is None:
            span = TimeSpan(key[2], key[3])
            candidate = found[key] = _Candidate(key[0], modality, span, row.get("text") or "")
        candidate.fused += 1.0 / (RRF_K + rank)
        candidate.scores[ranking] = max(candidate.scores.get(ranking, value), value)

    for rank, row in enumerate(store.search_text(query, depth, modalities, video_ids), start=1):
        add("text", rank, row, row["modality"], float(row.get("_score", 0.0)))
    kinds = [k for k, m in VECTOR_MODALITIES.items() if not modalities or m in modalities]
    if kinds:
        if embedder is None:
            embedder = TextEmbedder()
            embedder.load()
        vector = embedder.query(query)
        rows = store.search_text_vectors(vector, depth, kinds, video_ids)
        for rank, row in enumerate(rows, start=1):
            add("vector", rank, row, VECTOR_MODALITIES[row["kind"]], 1.0 - float(row["_distance"]))
    _fill_texts(library, found.values())
    merged = _merge(sorted(found.values(), key=lambda c: (c.video_id, c.modality, c.span)))
    merged.sort(key=lambda c: -c.fused)
    paths: dict[str, str] = {}
    hits = []
    for c in merged[:limit]:
        if c.video_id not in paths:
            stored = store.get_video(c.video_id)
            paths[c.video_id] = (stored or {}).get("path") or ""
        hits.append(
            MomentHit(
                c.video_id,
                paths[c.video_id],
                c.span,
                c.fused,
                c.modality,
                highlight(c.text, query),
                dict(c.scores),
            )
        )
    return hits


def _fill_texts(library: Library, candidates: Iterable[_Candidate]) -> None:
    """Give vector hits their moment's text (or a sound's label)."""
    wanted = [c for c in candidates if not c.text]
    moments: dict[str, dict[tuple[str, float, float], str]] = {}
    for c in wanted:
        if c.video_id not in moments:
            moments[c.video_id] = {
                (m["modality"], float(m["start_s"]), float(m["end_s"])): m["text"] or m["label"]
                for m in library.store.rows_for("moments", c.video_id)
            }
        c.text = moments[c.video_id].get((c.modality, c.span.start_s, c.span.end_s), "")


def _merge(ordered: list[_Candidate]) -> list[_Candidate]:
    """Join hits of one video and modality that touch or lie within MERGE_GAP_S when both
    hold the query's words. Hits by meaning alone stay apart: the vector ranking ranks
    every moment, and joining its neighbours would join whole videos."""
    out: list[_Candidate] = []
    for c in ordered:
        last = out[-1] if out else None
        if (
            last is not None
            and (last.video_id, last.modality) == (c.video_id, c.modality)
            and c.span.start_s <= last.span.end_s + MERGE_GAP_S
            and "text" in c.scores
            and "text" in last.scores
        ):
            last.span = TimeSpan(last.span.start_s, max(last.span.end_s, c.span.end_s))
            last.fused = max(last.fused, c.fused)
            for k, v in c.scores.items():
                last.scores[k] = max(last.scores.get(k, v), v)
            if c.text and c.text not in last.text:
                last.text = f"{last.text} {c.text}".strip()
        else:
            out.append(c)
    return out


def _fold(word: str) -> str:
    """Lower case without accents, as the full-text index compares words."""
    decomposed = unicodedata.normalize("NFKD", word.casefold().replace("ß", "ss"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def highlight(text: str, query: str) -> str:
    """`text` with the words of `query` in it marked `**like this**`."""
    words = {_fold(w) for w in re.findall(r"\w+", query)}
    if not words:
        return text
    return re.sub(r"\w+", lambda m: f"**{m[0]}**" if _fold(m[0]) in words else m[0], text)
