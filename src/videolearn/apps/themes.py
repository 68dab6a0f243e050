"""Themes: clusters of the library's videos, each named by the words that set it apart,
kept with stable ids as the library grows.

Two videos are as alike as the strongest thing they share, each a reason a person would
see: being copies (`apps.copies`), the same recording (a song laid under both), what
their sentences mean (`apps.recommend.Profiles`' language-centred meaning: one topic in
four languages comes together), and the words both say or show (TF-IDF, stop words
aside). Average-linkage clustering (scikit-learn) joins videos while the two groups are
alike by `MIN_AFFINITY` on average; groups of at least `themes.min_size` are themes, and
videos that fit none stay out. Average linkage, unlike density clustering (HDBSCAN, used
before) or single linkage, does not chain unrelated videos through one that is a little
like each, and a new video changes only the groups it is alike to, so themes hold their
members as the library grows. The learned look is not used: on the generated library it
outranked shared songs and topics. A theme's label says what binds it when words may not
("copies of box.mp4", "same sound"), then the words at least half of its members say or
show (one topic in four languages shares none: then the words of its most central
member, never one word of each language), or, with no words at all, its sound classes.

Re-clustering keeps ids: each new cluster takes the id of the stored theme it shares most
members with, when it holds at least half of that theme's remaining members; the rest
are new themes. Members keep the time they joined, so `growing` can say which themes
gained members lately.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videolearn.apps.copies import Copies, find_copies
from videolearn.apps.recommend import Profiles, profiles_from
from videolearn.config import Settings
from videolearn.library import Library
from videolearn.pipeline.hooks import StoredVideo, after_run_progress
from videolearn.store import Store
from videolearn.store.themes import ThemePlan, ThemeRecord

LABEL_WORDS = 3
# Sound class names in a label: the third was a model's stray guess ("Spray") on the
# generated songs.
LABEL_SOUNDS = 2


@dataclass(frozen=True)
class ThemeMember:
    video_id: str
    path: str
    joined: float  # seconds since the epoch


@dataclass(frozen=True)
class Theme:
    """A theme: its id (kept as it grows), label, members, and whether it is growing (the
    members that joined within `themes.growing_days`, after it was made, number at least
    `themes.growing_share` of those it had before)."""

    theme_id: int
    label: str
    members: tuple[ThemeMember, ...]
    growing: bool

    @property
    def size(self) -> int:
        return len(self.members)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.theme_id,
            "label": self.label,
            "size": self.size,
            "growing": self.growing,
            "members": [
                {"video_id": m.video_id, "path": m.path, "joined": round(m.joined, 3)}
                for m in self.members
            ],
        }


# How alike two videos must be, on average over two themes' members, to be one theme
# (average linkage over 1 - affinity).
MIN_AFFINITY = 0.5
# Meaning: the cosine of two videos' language-centred sentence vectors at which they are
# not alike at all, and at which fully (one topic across languages: 0.11-0.27 on the
# generated topics, two topics at most 0.09).
MEANING_FROM, MEANING_FULL = 0.1, 0.3
# Words: the TF-IDF cosine at which two videos are fully alike by the words they share.
WORDS_FULL = 0.4
# Same sound: the share of the shorter video's sound that makes two fully alike (a song
# laid over half of each).
SOUND_FULL = 0.5
# Videos whose meaning is compared with every other's at once.
AFFINITY_BLOCK = 2048


def _affinity(profiles: Profiles, copies: Copies) -> Any:
    """(videos, videos) how alike each two videos are, 0-1, by the strongest of what they
    share: being copies, the same recording, what their sentences mean, the words they
    share. Each is a reason a person would see; the learned look is not used. A sparse
    matrix (scipy CSR) of the pairs alike at all: most pairs of a large library share
    nothing, and a dense one took 400 MB at 10,000 videos."""
    from scipy.sparse import coo_matrix, identity

    n = len(profiles.videos)
    affinity = identity(n, np.float32, format="csr")
    meaning = profiles.vectors.get("meaning")
    if meaning is not None:
        matrix, has = meaning
        rows, cols, values = [], [], []
        for start in range(0, n, AFFINITY_BLOCK):
            cos = matrix[start : start + AFFINITY_BLOCK] @ matrix.T
            scaled = np.clip((cos - MEANING_FROM) / (MEANING_FULL - MEANING_FROM), 0, 1)
            scaled[~has[start : start + AFFINITY_BLOCK]] = 0
            scaled[:, ~has] = 0
            i, j = np.nonzero(scaled)
            rows.append(i + start)
            cols.append(j)
            values.append(scaled[i, j])
        if rows:
            found = (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols)))
            affinity = affinity.maximum(coo_matrix(found, shape=(n, n)).tocsr())
    if profiles.words is not None:
        words = (profiles.words @ profiles.words.T).tocsr().astype(np.float32)
        words.data = np.clip(words.data / WORDS_FULL, 0, 1)
        affinity = affinity.maximum(words)
    row = profiles.row
    pairs: dict[tuple[int, int], float] = {}  # (i, j), i < j
    for (a, b), share in copies.shared_sound.items():
        if a in row and b in row and a != b:
            pair = (min(row[a], row[b]), max(row[a], row[b]))
            pairs[pair] = max(pairs.get(pair, 0.0), min(1.0, share / SOUND_FULL))
    for family in copies.families():
        inside = sorted(row[v] for v in family if v in row)
        pairs.update({(x, y): 1.0 for k, x in enumerate(inside) for y in inside[k + 1 :]})
    if pairs:
        ij = np.array(list(pairs), np.int64).reshape(-1, 2)
        shares = np.fromiter(pairs.values(), np.float32, len(pairs))
        spots = (np.r_[ij[:, 0], ij[:, 1]], np.r_[ij[:, 1], ij[:, 0]])
        affinity = affinity.maximum(coo_matrix((np.r_[shares, shares], spots), shape=(n, n)))
    return affinity.tocsr()


def _clusters(affinity: Any, min_size: int) -> list[list[int]]:
    """Groups of at least `min_size` videos alike on average by `MIN_AFFINITY` (average
    linkage: one video alike to one member does not pull a group in, as single linkage
    and density would chain it). Videos alike to nothing of another set of videos are
    never one group with them (their average is 0), so each connected part of the
    affinity graph is clustered alone: the same groups as clustering the whole, at the
    cost of the largest part."""
    from scipy.sparse.csgraph import connected_components
    from sklearn.cluster import AgglomerativeClustering

    out: list[list[int]] = []
    _, part = connected_components(affinity, directed=False)
    for members in np.split(np.argsort(part, kind="stable"), np.cumsum(np.bincount(part))[:-1]):
        if len(members) < min_size:
            continue
        model = AgglomerativeClustering(
            n_clusters=None,
            metric="precomputed",
            linkage="average",
            distance_threshold=1.0 - MIN_AFFINITY,
        )
        local = affinity[members][:, members].toarray()
        found = model.fit_predict(1.0 - local)
        groups: dict[int, list[int]] = defaultdict(list)
        for r, cluster in enumerate(found.tolist()):
            groups[cluster].append(int(members[r]))
        out.extend(g for g in groups.values() if len(g) >= min_size)
    return sorted(out, key=lambda g: g[0])


def _labels(
    profiles: Profiles,
    groups: Sequence[Sequence[int]],
    affinity: Any,
    copies: Copies,
) -> list[str]:
    """Each group's label: what binds it ("copies of box.mp4", "same sound"), then the
    words held by at least half of its members (two at least), heaviest first, made up to
    three with the words of the member most like the rest (one topic said in four
    languages shares few words); sound class names only for a group that says and shows
    nothing, two at most, one of each kind ("Noise", not then "White noise")."""
    out = []
    for group in groups:
        rows = list(group)
        bond = _bond(profiles, rows, copies)
        terms = _shared_terms(profiles.words, profiles.vocabulary, rows)
        if len(terms) < LABEL_WORDS and profiles.words is not None:
            centre = rows[int(np.argmax(np.asarray(affinity[rows][:, rows].sum(axis=1))))]
            own = _shared_terms(
                profiles.words, profiles.vocabulary, [centre], len(terms) + LABEL_WORDS
            )
            terms += [t for t in own if t not in terms][: LABEL_WORDS - len(terms)]
        if not terms and not _holds(profiles.words, rows):
            names = _shared_terms(
                profiles.labels, profiles.label_names, rows, len(profiles.label_names)
            )
            seen: set[str] = set()
            for name in names:
                kind = set(name.casefold().replace(",", " ").split())
                if not kind & seen and len(terms) < LABEL_SOUNDS:
                    # Sound class names hold commas of their own ("Burst, pop").
                    terms.append(name.replace(", ", "/"))
                seen |= kind
        words = ", ".join(terms)
        out.append(f"{bond}: {words}" if bond and words else bond or words)
    return out


def _bond(profiles: Profiles, rows: Sequence[int], copies: Copies) -> str:
    """What binds a group that its words may not say: being one video and its copies
    (named by the one `Copies.head` shows), or one recording under most of its members."""
    ids = [profiles.videos[r].video_id for r in rows]
    if copies.family(ids[0]) >= set(ids):
        return f"copies of {Path(copies.videos[copies.head(ids)].path).name}"
    pairs = len(ids) * (len(ids) - 1) // 2
    sharing = sum(
        (a, b) in copies.shared_sound or (b, a) in copies.shared_sound
        for i, a in enumerate(ids)
        for b in ids[i + 1 :]
    )
    return "same sound" if pairs and sharing * 2 >= pairs else ""


def _holds(matrix: Any, rows: Sequence[int]) -> bool:
    return matrix is not None and matrix[list(rows)].nnz > 0


def _shared_terms(
    matrix: Any, names: np.ndarray, rows: Sequence[int], most: int = LABEL_WORDS
) -> list[str]:
    """Up to `most` terms held by at least half of `rows` (all of one or two, two
    at least otherwise), by their summed weight there (TF-IDF for words, the model's
    score times the inverse document frequency for sound classes)."""
    if matrix is None or not len(rows):
        return []
    part = matrix[list(rows)]
    held = np.asarray((part > 0).sum(axis=0)).ravel()
    need = len(rows) if len(rows) <= 2 else max(2, math.ceil(len(rows) / 2))
    score = np.where(held >= need, np.asarray(part.sum(axis=0)).ravel(), 0.0)
    order = np.argsort(-score, kind="stable")[:most]
    return [str(names[i]) for i in order if score[i] > 0]


def _keep_ids(
    old: Sequence[ThemeRecord], groups: Sequence[set[str]], known: set[str]
) -> list[int | None]:
    """The stored theme each new group continues (None: a new theme): the one it shares
    most members with, when it holds at least half of that theme's remaining members."""
    pairs = []
    for g, members in enumerate(groups):
        for theme in old:
            remaining = set(theme.members) & known
            shared = len(members & remaining)
            if remaining and shared * 2 >= len(remaining):
                pairs.append((shared, g, theme.theme_id))
    taken: set[int] = set()
    out: list[int | None] = [None] * len(groups)
    for _, g, theme_id in sorted(pairs, reverse=True):
        if out[g] is None and theme_id not in taken:
            out[g] = theme_id
            taken.add(theme_id)
    return out


def update_themes(library: Library, now: float | None = None) -> list[Theme]:
    """Cluster the library's videos again and store the themes, keeping the ids of themes
    that continue."""
    _update(library.store, library.settings, now)
    return themes(library, now)


def _update(store: Store, settings: Settings, now: float | None = None) -> None:
    profiles = profiles_from(store, settings.library)
    groups: list[list[int]] = []
    labels: list[str] = []
    if len(profiles.videos) >= settings.themes.min_size:

        def searched(done: int, total: int) -> None:
            after_run_progress("finding copies", done, total)

        copies = find_copies(store, settings, searched)
        affinity = _affinity(profiles, copies)
        groups = _clusters(affinity, settings.themes.min_size)
        labels = _labels(profiles, groups, affinity, copies)
    ids = [[profiles.videos[r].video_id for r in g] for g in groups]
    keep = _keep_ids(store.themes.current(), [set(g) for g in ids], set(profiles.row))
    plans = [
        ThemePlan(k, label, members) for k, label, members in zip(keep, labels, ids, strict=True)
    ]
    store.themes.replace(plans, now)


class ThemesHook:
    """Clusters the library again at the end of each index run that stored videos."""

    name = "themes"

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.stored = 0

    def video_stored(self, video: StoredVideo) -> None:
        self.stored += 1

    def run_finished(self) -> None:
        if self.stored:
            _update(self.store, self.settings)


def themes(library: Library, now: float | None = None) -> list[Theme]:
    """The stored themes, largest first."""
    settings = library.settings.themes
    paths = library.store.shown_paths()
    now = time.time() if now is None else now
    since = now - settings.growing_days * 86_400
    out = []
    for record in library.store.themes.current():
        members = tuple(
            sorted(
                (
                    ThemeMember(v, paths[v], joined)
                    for v, joined in record.members.items()
                    if v in paths
                ),
                key=lambda m: (m.joined, m.path),
            )
        )
        if not members:
            continue
        recent = sum(m.joined >= since and m.joined > record.created_at for m in members)
        growing = recent > 0 and recent >= settings.growing_share * (len(members) - recent)
        out.append(Theme(record.theme_id, record.label, members, growing))
    return sorted(out, key=lambda t: (-t.size, t.theme_id))
