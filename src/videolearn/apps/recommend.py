"""More like this: videos that look, sound or speak like a video (or a watch history),
with near-copies set apart and every recommendation explained.

Each signal the library holds gives every candidate a score of its own:

- `look` and `hearing`: the learned audio-visual model's per-shot vectors (`av_embed`),
  averaged per video, by cosine;
- `meaning`: the multilingual text vectors of the sentences said and shown, each less
  its language's mean, averaged per video (one topic in two languages lands close);
- `words`: TF-IDF over the words said and shown (scikit-learn), by cosine; the words
  both share most are the reason;
- `sound_events`: the sound labels (Music, Applause, ...) weighted by how rare they are;
- `same_audio`: the share of the video's sound that is the same recording (`apps.sound`).

Scores of one signal are made comparable with the others per query, not by one fixed
cut-off: a candidate at the query's median scores 0 and a perfect match 1. The blend is
their weighted mean; the list is diversified by maximal marginal relevance.

A candidate in the family of copies of a video of the query (`apps.copies`: one rule from
pictures and sound, or a person's decision) is listed under `duplicates`, never among the
results; copies among the results collapse into one entry. Two videos that share only a
stretch of pictures are not copies: the one is said to contain that stretch of the other.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videolearn.apps.copies import Copies, Copy, copies_near, describe_quote, kept_sound
from videolearn.apps.kept import Kept, rows_of_videos, strings, video_rows
from videolearn.apps.sound import SharedSound, SoundAlike, sound_index
from videolearn.errors import OptionError
from videolearn.library import Library
from videolearn.store import Store
from videolearn.store.decisions import CopyDecision
from videolearn.store.tables import VideoRow
from videolearn.text import fold_word, is_sentence, stopwords_of

# Signals by name, in the order reasons are given.
SIGNALS = ("same_audio", "look", "hearing", "meaning", "words", "sound_events")
_WORD = re.compile(r"[^\W\d_]{3,}")
# The words of speech that count as said: Whisper's probability of a word it misheard
# ("Fahrkatten" for "Fahrkarten", "App" for "Apfel") is often under a half, so words under
# it are left out of what videos are said to mention (and of theme labels).
SURE_WORD = 0.5


@dataclass(frozen=True)
class Recommendation:
    """A video to watch next: its blended score, each signal's score (0-1, relative to
    this query), the reasons in words, and the copies of it that were folded into it."""

    video_id: str
    path: str
    score: float
    scores: Mapping[str, float]
    reasons: tuple[str, ...]
    copies: tuple[Copy, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "video_id": self.video_id,
            "path": self.path,
            "score": round(self.score, 4),
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
            "reasons": list(self.reasons),
            "copies": [c.to_json() for c in self.copies],
        }


@dataclass(frozen=True)
class Recommendations:
    """`similar`'s answer: the query, the copies of it, and the recommendations."""

    query: tuple[VideoRow, ...]
    duplicates: tuple[Copy, ...]
    results: tuple[Recommendation, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "query": [{"video_id": v.video_id, "path": v.path} for v in self.query],
            "duplicates": [d.to_json() for d in self.duplicates],
            "results": [r.to_json() for r in self.results],
        }


def _normalised(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.maximum(norms, 1e-12), np.float32)


def _mean_per_video(
    ids: Sequence[str], row: Mapping[str, int], places: Sequence[Any], matrix: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """(videos, dim) normalised mean vector per video, and which videos have one."""
    if not places:
        return None
    owners = np.array([row[p.video_id] for p in places], np.int64)
    sums = np.zeros((len(ids), matrix.shape[1]), np.float32)
    np.add.at(sums, owners, matrix)
    has = np.bincount(owners, minlength=len(ids)) > 0
    return _normalised(sums), has


@dataclass
class Profiles:
    """What every stored video looks, sounds and speaks like, one row per video."""

    videos: list[VideoRow]
    row: dict[str, int]
    vectors: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    words: Any = None  # (videos, vocabulary) scipy CSR, rows L2-normalised
    vocabulary: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    labels: Any = None
    label_names: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    # What queries derive from the above, once per profiles.
    _derived: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, store: Store) -> Profiles:
        videos = store.videos()
        row = {v.video_id: n for n, v in enumerate(videos)}
        ids = [v.video_id for v in videos]
        out = cls(videos, row)
        model = _av_model(videos)
        if model:
            for name, kind in (("look", "av_video"), ("hearing", "av_audio")):
                found = _mean_per_video(ids, row, *store.embedding_matrix(kind, model))
                if found is not None:
                    out.vectors[name] = found
        texts: dict[str, list[str]] = defaultdict(list)
        labels: dict[str, dict[str, float]] = defaultdict(dict)
        languages: set[str] = set()
        sentences: dict[tuple[str, str, float], str] = {}
        for m in store.moments_of(["speech", "text", "sound"]):
            if m.language:
                languages.add(m.language)
            if m.modality == "sound":
                have = labels[m.video_id]
                have[m.label] = max(have.get(m.label, 0.0), m.score)
            else:
                texts[m.video_id].append(m.sure_text(SURE_WORD))
                if is_sentence(m.text):
                    key = (m.modality, m.video_id, round(m.start_s, 3))
                    sentences[key] = m.language or m.modality
        found = _meaning(store, ids, row, sentences)
        if found is not None:
            out.vectors["meaning"] = found
        documents = [" ".join(texts.get(i, ())) for i in ids]
        out.words, out.vocabulary = _tfidf(documents, stopwords_of(languages))
        out.labels, out.label_names = _label_weights([labels.get(i, {}) for i in ids])
        return out

    def distinct_labels(self, most_share: float) -> Any:
        """The sound labels without those of more than `most_share` of the videos (as
        stop words are left out of words), each row of unit length again; None when
        none is left."""
        if self.labels is None:
            return None
        key = f"labels below {most_share}"
        if key not in self._derived:
            held = np.bincount(self.labels.indices, minlength=self.labels.shape[1])
            keep = (held <= most_share * len(self.videos)).astype(np.float32)
            kept = self.labels.multiply(keep[None, :]).tocsr()
            kept.eliminate_zeros()
            self._derived[key] = _unit_rows(kept) if kept.nnz else None
        return self._derived[key]

    def arrays(self) -> dict[str, np.ndarray]:
        """The profiles as plain arrays (`apps.kept`)."""
        out = {"videos": video_rows(self.videos)}
        for name, (matrix, has) in self.vectors.items():
            out[f"vectors.{name}"], out[f"has.{name}"] = matrix, has
        for name, sparse, names in (
            ("words", self.words, self.vocabulary),
            ("labels", self.labels, self.label_names),
        ):
            out[f"{name}.names"] = strings(names)
            if sparse is not None:
                out[f"{name}.data"], out[f"{name}.indices"] = sparse.data, sparse.indices
                out[f"{name}.indptr"], out[f"{name}.shape"] = sparse.indptr, np.array(sparse.shape)
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Profiles:
        from scipy.sparse import csr_matrix

        videos = rows_of_videos(arrays["videos"])
        out = cls(videos, {v.video_id: n for n, v in enumerate(videos)})
        for key, matrix in arrays.items():
            if key.startswith("vectors."):
                name = key.removeprefix("vectors.")
                out.vectors[name] = (matrix, arrays[f"has.{name}"])
        sparse = {}
        for name in ("words", "labels"):
            if f"{name}.data" in arrays:
                parts = (arrays[f"{name}.{p}"] for p in ("data", "indices", "indptr"))
                shape = tuple(int(n) for n in arrays[f"{name}.shape"])
                sparse[name] = csr_matrix(tuple(parts), shape=shape)
        out.words, out.vocabulary = sparse.get("words"), arrays["words.names"]
        out.labels, out.label_names = sparse.get("labels"), arrays["labels.names"]
        return out


def _meaning(
    store: Store,
    ids: Sequence[str],
    row: Mapping[str, int],
    sentences: Mapping[tuple[str, str, float], str],
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per video, what its sentences (said or written: no counters, no sound labels) mean:
    their text vectors, less the mean vector of their language, averaged.

    multilingual-e5's vectors of two texts in one language lie closer than those of one
    topic in two languages (on the generated topics: a park and a train passage in Spanish
    0.94, the park passage in English and Spanish 0.86); without each language's mean,
    one topic across languages comes closest (0.11-0.27 against 0.09 at most between
    topics). A language said in one video only has the mean of every sentence taken.
    """
    owners: list[str] = []
    groups: list[str] = []
    parts: list[np.ndarray] = []
    for kind, modality in (("e5_speech", "speech"), ("e5_text", "text")):
        places, matrix = store.text_vector_matrix((kind,))
        for place, vector in zip(places, matrix, strict=True):
            group = sentences.get((modality, place.video_id, round(place.start_s, 3)))
            if group is not None:
                owners.append(place.video_id)
                groups.append(group)
                parts.append(vector)
    if not parts:
        return None
    vectors = _normalised(np.stack(parts))
    centred = vectors - vectors.mean(axis=0)
    by_group: dict[str, list[int]] = defaultdict(list)
    for n, group in enumerate(groups):
        by_group[group].append(n)
    for members in by_group.values():
        if len({owners[n] for n in members}) >= 2:
            centred[members] = vectors[members] - vectors[members].mean(axis=0)
    return _mean_per_video(ids, row, [_Owner(v) for v in owners], centred)


@dataclass(frozen=True)
class _Owner:
    video_id: str


def _av_model(videos: Sequence[VideoRow]) -> str:
    """The av_embed weights most videos were embedded with ("" when none was)."""
    tags = Counter(
        str(v.extractors["av_embed"]).partition(":")[2]
        for v in videos
        if "av_embed" in v.extractors
    )
    return tags.most_common(1)[0][0] if tags else ""


def _tfidf(documents: Sequence[str], stop: frozenset[str]) -> tuple[Any, np.ndarray]:
    """TF-IDF of the documents' words, without the stop words of the languages spoken
    (a label or a reason of "and, your" says nothing): scikit-learn's TfidfVectorizer with
    sublinear counts, done here with scipy (importing scikit-learn cost a CLI call 1-2 s)."""
    from scipy.sparse import csr_matrix

    tokens = [[w for w in _WORD.findall(fold_word(d)) if w not in stop] for d in documents]
    vocabulary = np.array(sorted({w for words in tokens for w in words}), dtype=object)
    if not len(vocabulary):
        return None, np.zeros(0, object)
    column = {w: i for i, w in enumerate(vocabulary)}
    rows = [r for r, words in enumerate(tokens) for _ in words]
    cols = [column[w] for words in tokens for w in words]
    shape = (len(documents), len(vocabulary))
    counts = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=len(vocabulary))
    # A word in most videos tells them apart from nothing.
    if len(documents) >= 10:
        keep = df <= 0.5 * len(documents)
        if not keep.any():
            return None, np.zeros(0, object)
        counts, vocabulary, df = counts[:, keep].tocsr(), vocabulary[keep], df[keep]
    counts.data = 1.0 + np.log(counts.data)
    return _idf_weighted(counts, df), vocabulary


def _idf_weighted(matrix: Any, df: np.ndarray) -> Any:
    """Rows of `matrix` (CSR) times each column's smoothed inverse document frequency, each
    row of unit length."""
    idf = np.log((1 + matrix.shape[0]) / (1 + df)) + 1.0
    return _unit_rows(matrix.multiply(idf[None, :]).tocsr())


def _unit_rows(matrix: Any) -> Any:
    """`matrix` (CSR) with each row of unit length (a row of zeros stays one)."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return matrix.multiply(1.0 / np.maximum(norms, 1e-12)[:, None]).tocsr()


def _label_weights(per_video: Sequence[Mapping[str, float]]) -> tuple[Any, np.ndarray]:
    """(videos, labels) CSR of label score times its inverse document frequency."""
    from scipy.sparse import csr_matrix

    names = sorted({label for labels in per_video for label in labels})
    if not names:
        return None, np.zeros(0, object)
    column = {n: i for i, n in enumerate(names)}
    rows, cols, values = [], [], []
    for r, labels in enumerate(per_video):
        for label, score in labels.items():
            rows.append(r)
            cols.append(column[label])
            values.append(score)
    matrix = csr_matrix((values, (rows, cols)), shape=(len(per_video), len(names)))
    df = np.bincount(matrix.indices, minlength=len(names))
    return _idf_weighted(matrix, df), np.array(names, dtype=object)


def profiles_of(library: Library) -> Profiles:
    """The library's profiles, built when first asked for and after every change."""
    return profiles_from(library.store, library.settings.library)


def profiles_from(store: Store, where: Path) -> Profiles:
    """The profiles of the library at `where` (whose store `store` is)."""
    return _profiles.get(store, where)


_profiles = Kept("profiles", 2, Profiles.build, Profiles.arrays, Profiles.from_arrays)


def _relative(raw: np.ndarray) -> np.ndarray:
    """Scores of one signal made comparable across signals for this query: the median
    candidate 0, a perfect match 1."""
    if raw.size == 0:
        return raw
    median = float(np.median(raw))
    return np.asarray(np.clip((raw - median) / max(1.0 - median, 1e-6), 0.0, 1.0), np.float32)


def similar(library: Library, videos: Sequence[str], limit: int = 10) -> Recommendations:
    """Videos like `videos` (paths or ids; several are a watch history, the last watched
    most recently), near-copies apart.

    Raises:
        VideoNotFoundError: a video is not indexed.
        OptionError: no video given.
    """
    if not videos:
        raise OptionError("name at least one indexed video")
    query = tuple(dict.fromkeys(library.resolve(v).video_id for v in videos))
    return _Answer(library, query).recommend(limit)


class _Answer:
    """One `similar` call: the query, the library's profiles, and the pictures read."""

    def __init__(self, library: Library, query: Sequence[str]) -> None:
        self.library = library
        self.query = query
        self.settings = library.settings.recommend
        self.profiles = profiles_of(library)
        self.rows = [self.profiles.row[v] for v in query if v in self.profiles.row]
        self.shared = self._shared_audio()

    def recommend(self, limit: int) -> Recommendations:
        profiles, rows = self.profiles, self.rows
        # Never the query itself, nor a video a `block` verdict holds back.
        blocked = self.library.store.moderation.blocked()
        free = np.ones(len(profiles.videos), bool)
        free[[*rows, *(profiles.row[v] for v in blocked if v in profiles.row)]] = False
        candidates = np.flatnonzero(free)
        raw = self._raw_scores()
        relative = {name: _relative(v[candidates]) for name, v in raw.items()}
        if "same_audio" in relative:  # a share of the video already, not a similarity
            relative["same_audio"] = np.minimum(
                1.0, self._same_audio_share()[candidates] * 2
            ).astype(np.float32)
        weight = self.settings.weights
        total = sum(weight.get(name, 0.0) for name in relative) or 1.0
        score = np.zeros(len(candidates), np.float32)
        for name, rel in relative.items():
            score += weight.get(name, 0.0) * rel / total
        # Candidates no signal sets apart from the median still come in order of their
        # plain similarity, after those that stand out.
        plain = np.mean([v[candidates] for v in raw.values()], axis=0) if raw else score
        pool = [int(i) for i in np.lexsort((-plain, -score))[: max(limit * 5, 50)]]
        # The query's families, followed out through the library, and copies among the
        # pool: the rule runs on these, not on every pair of the library.
        within = [profiles.videos[int(candidates[i])].video_id for i in pool]
        copies = copies_near(self.library, self.query, within)
        duplicates, kept, contained = self._set_apart(copies, candidates, pool)
        position = {int(candidates[i]): i for i in kept}
        groups = dict(self._fold_copies(copies, [int(candidates[i]) for i in kept]))
        chosen = self._diversify(candidates, score, [position[h] for h in groups], limit)
        results = []
        for i in chosen:
            head = int(candidates[i])
            folded = groups[head]
            video = profiles.videos[head]
            scores = {name: float(rel[i]) for name, rel in relative.items()}
            reasons = self._reasons(head, scores)
            if head in contained:
                reasons.insert(0, contained[head])
            # A shared stretch ("contains 0:02-0:07 of X") is a reason whatever the blend.
            if head not in contained and (score[i] < self.settings.min_score or not reasons):
                continue
            results.append(
                Recommendation(
                    video.video_id, video.path, float(score[i]), scores, tuple(reasons), folded
                )
            )
        # Chosen for diversity, shown by score; only what comes near the best (a list of
        # ten that holds three videos of the query's song goes on with whatever "both
        # have: Speech" or "Music" brings).
        results.sort(key=lambda r: -r.score)
        if results:
            near = self.settings.relative_score * results[0].score
            quoting = {profiles.videos[h].video_id for h in contained}
            results = [r for r in results if r.score >= near or r.video_id in quoting]
        return Recommendations(
            tuple(profiles.videos[r] for r in rows), tuple(duplicates), tuple(results)
        )

    def _raw_scores(self) -> dict[str, np.ndarray]:
        """Each signal's similarity of every video to the query, the most recent video of
        a history weighing twice the one before it."""
        profiles, rows = self.profiles, self.rows
        weights = 0.5 ** np.arange(len(rows))[::-1]
        weights = weights / weights.sum()
        raw: dict[str, np.ndarray] = {}
        for name, (matrix, has) in profiles.vectors.items():
            if all(has[r] for r in rows):
                raw[name] = np.where(has, weights @ (matrix[rows] @ matrix.T), 0.0)
        labels = profiles.distinct_labels(self.settings.common_sound_share)
        for name, sparse in (("words", profiles.words), ("sound_events", labels)):
            # A query with no words (or labels) has no data for the signal: it drops out.
            if sparse is not None and sparse[rows].nnz:
                raw[name] = weights @ np.asarray((sparse[rows] @ sparse.T).todense())
        if self.shared:
            raw["same_audio"] = self._same_audio_share()
        return raw

    def _same_audio_share(self) -> np.ndarray:
        same = np.zeros(len(self.profiles.videos), np.float32)
        for video_id, (fraction, _) in self.shared.items():
            same[self.profiles.row[video_id]] = fraction
        return same

    def _shared_audio(self) -> dict[str, tuple[float, str]]:
        """Per video sharing sound with a query video: the share of its sound that is
        shared, and the reason in words."""
        out: dict[str, tuple[float, str]] = {}
        # A history's older videos count less, as in `_raw_scores`.
        recency = {v: 0.5 ** (len(self.query) - 1 - n) for n, v in enumerate(self.query)}
        for video_id in self.query:
            # A video searched for copies: its sound's sharers as the search kept them.
            found: Sequence[tuple[str, Sequence[SharedSound]]] | None
            found = kept_sound(self.library, video_id)
            if found is None:
                index = sound_index(self.library)
                fp = index.of(video_id)
                if fp is None:
                    continue
                most = self.settings.sound_candidates
                found = index.alike(fp, self.settings, self.query, most=most)
            for other, stretches in found:
                if other not in self.profiles.row or other in self.query:
                    continue
                alike = SoundAlike(other, "", tuple(stretches))
                video = self.profiles.videos[self.profiles.row[other]]
                share = alike.shared_s / max(video.duration_s or alike.shared_s, 1e-3)
                fraction = min(1.0, share) * recency[video_id]
                if fraction > out.get(other, (0.0, ""))[0]:
                    out[other] = (fraction, alike.describe())
        return out

    def _reasons(self, head: int, scores: Mapping[str, float]) -> list[str]:
        """The signals that make `head` like the query, in words: each that scores at
        least `reason_min_score`, and the one that adds most to its score in any case."""
        profiles = self.profiles
        weight = self.settings.weights
        strongest = max(scores, key=lambda n: scores[n] * weight.get(n, 0.0), default="")
        reasons = []
        for name in SIGNALS:
            value = scores.get(name, 0.0)
            if value <= 0 or (value < self.settings.reason_min_score and name != strongest):
                continue
            if weight.get(name, 0.0) <= 0:  # what does not count is no reason
                continue
            shared = self.shared.get(profiles.videos[head].video_id)
            if name == "same_audio" and shared:
                reasons.append(shared[1])
            elif name in PLAIN_REASONS:
                reasons.append(PLAIN_REASONS[name])
            elif name == "words":
                common = _common(profiles.words, profiles.vocabulary, self.rows, head)
                if common:
                    reasons.append("both mention: " + ", ".join(common))
            elif name == "sound_events":
                labels = profiles.distinct_labels(self.settings.common_sound_share)
                common = _common(labels, profiles.label_names, self.rows, head)
                if common:
                    reasons.append("both have: " + ", ".join(common))
        return reasons

    # -- copies ---------------------------------------------------------------------------

    def _set_apart(
        self, copies: Copies, candidates: np.ndarray, pool: Sequence[int]
    ) -> tuple[list[Copy], list[int], dict[int, str]]:
        """The copies of the query's videos (every member of their families, `apps.copies`),
        the rest of `pool`, and what stretch of a query video some of those quote (by
        profile row)."""
        profiles, query = self.profiles, self.query
        duplicates: list[Copy] = []
        listed: set[str] = set(query)
        for q in query:
            for member in sorted(copies.family(q) - listed):
                video = profiles.videos[profiles.row[member]] if member in profiles.row else None
                if video is None:
                    continue
                listed.add(member)
                duplicates.append(Copy(member, video.path, copies.reason(q, member) or "", q))
        contained: dict[int, str] = {}
        for i in pool:
            video = profiles.videos[int(candidates[i])]
            for q in query:
                span = copies.quoted(q, video.video_id)
                if span is not None:
                    source = profiles.videos[profiles.row[q]].path
                    contained[int(candidates[i])] = describe_quote(span, source)
                    break
        return (
            duplicates,
            [i for i in pool if profiles.videos[int(candidates[i])].video_id not in listed],
            contained,
        )

    def _diversify(
        self, candidates: np.ndarray, score: np.ndarray, pool: Sequence[int], limit: int
    ) -> list[int]:
        """Maximal marginal relevance: each next pick is the candidate whose score, less
        its likeness to those picked already, is highest (`mmr_lambda` 1: score alone)."""
        if not pool:
            return []
        weight = self.settings.mmr_lambda
        parts = [m for m, _ in self.profiles.vectors.values()]
        rows = candidates[list(pool)]
        if parts:
            joined = _normalised(np.concatenate([m[rows] for m in parts], axis=1))
            likeness = joined @ joined.T
        else:
            likeness = np.zeros((len(pool), len(pool)), np.float32)
        chosen: list[int] = []
        left = list(range(len(pool)))
        while left and len(chosen) < limit:
            penalty = likeness[np.ix_(left, chosen)].max(axis=1) if chosen else 0.0
            value = weight * score[[pool[j] for j in left]] - (1 - weight) * penalty
            best = left[int(np.argmax(value))]
            chosen.append(best)
            left.remove(best)
        return [pool[j] for j in chosen]

    def _fold_copies(
        self, copies: Copies, rows: Sequence[int]
    ) -> list[tuple[int, tuple[Copy, ...]]]:
        """Results in order, the copies among them (one family) folded into the one
        `Copies.head` would show."""
        videos = self.profiles.videos
        groups: dict[frozenset[str], list[int]] = {}
        for r in rows:
            groups.setdefault(copies.family(videos[r].video_id), []).append(r)
        out = []
        for group in groups.values():
            ids = {videos[r].video_id: r for r in group}
            head = copies.head(ids)
            folded = tuple(
                Copy(v, videos[r].path, copies.reason(head, v) or "", head)
                for v, r in ids.items()
                if v != head
            )
            out.append((ids[head], folded))
        return out


PLAIN_REASONS = {"look": "similar look", "hearing": "similar sound", "meaning": "similar topic"}


def _common(
    matrix: Any, names: np.ndarray, rows: Sequence[int], head: int, top: int = 3
) -> list[str]:
    """The terms the candidate shares with the query videos that weigh most in both."""
    query = np.asarray(matrix[rows].max(axis=0).todense()).ravel()
    other = np.asarray(matrix[head].todense()).ravel()
    both = query * other
    order = [i for i in np.argsort(-both, kind="stable")[:top] if both[i] > 0]
    return [str(names[i]) for i in order]


@dataclass(frozen=True)
class Decision:
    """A person's decision on two videos, with their paths."""

    decision: CopyDecision
    path_a: str
    path_b: str

    def to_json(self) -> dict[str, Any]:
        return self.decision.to_json() | {"path_a": self.path_a, "path_b": self.path_b}


def decide_copies(library: Library, a: str, b: str, copy: bool, note: str = "") -> Decision:
    """Record that two indexed videos (paths or ids) are, or are not, copies; `similar`
    follows it from now on, whatever re-indexing or new models say.

    Raises:
        VideoNotFoundError: a video is not indexed.
        OptionError: both name the same video.
    """
    first, second = library.resolve(a), library.resolve(b)
    try:
        decided = library.store.decisions.decide(first.video_id, second.video_id, copy, note)
    except ValueError as err:
        raise OptionError(str(err)) from None
    paths = {first.video_id: first.path, second.video_id: second.path}
    return Decision(decided, paths[decided.video_a], paths[decided.video_b])


def copy_decisions(library: Library) -> list[Decision]:
    """Every decision on copies, oldest first."""
    paths = library.store.stored_paths()
    return [
        Decision(d, paths.get(d.video_a, ""), paths.get(d.video_b, ""))
        for d in library.store.decisions.list()
    ]
