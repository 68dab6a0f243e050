"""Themes: clusters of the library's videos, each named by the words that set it apart,
kept with stable ids as the library grows.

Each video is one point: its profile vectors (`apps.recommend.Profiles`: learned look and
sound, text meaning) and its words (TF-IDF reduced to a few dozen dimensions with
TruncatedSVD), each part normalised, joined and normalised again. HDBSCAN (scikit-learn)
finds the clusters: dense groups of any shape and size, with no number of clusters to
choose and videos that fit none left out. A theme's label is its top words by class-based
TF-IDF (each theme's words and sound labels pooled as one document, weighed against how
common the word is across themes).

Re-clustering keeps ids: each new cluster takes the id of the stored theme it shares most
members with, when it holds at least half of that theme's remaining members; the rest
are new themes. Members keep the time they joined, so `growing` can say which themes
gained members lately.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from videolearn.apps.recommend import Profiles, profiles_from
from videolearn.config import Settings
from videolearn.library import Library
from videolearn.pipeline.hooks import StoredVideo
from videolearn.store import Store
from videolearn.store.themes import ThemePlan, ThemeRecord

LABEL_WORDS = 3


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


def _points(profiles: Profiles) -> np.ndarray | None:
    """(videos, dim) unit vectors standing for each video, or None with nothing to go on."""
    # Profile vectors are unit length (zero for a video without that signal).
    parts = [matrix for matrix, _ in profiles.vectors.values()]
    words = profiles.words
    if words is not None and words.shape[1] > 2:
        from sklearn.decomposition import TruncatedSVD

        dims = min(50, words.shape[1] - 1, max(2, words.shape[0] - 1))
        # Words of no spread (every video saying the same) leave the explained-variance
        # ratio, which is not used, a division by zero.
        with np.errstate(invalid="ignore", divide="ignore"):
            reduced = TruncatedSVD(n_components=dims, random_state=0).fit_transform(words)
        # Not scaled up again: a video whose words the components miss (words no other
        # video uses) keeps a short vector, instead of a long one pointing anywhere.
        parts.append(reduced.astype(np.float32))
    if not parts:
        return None
    joined = np.concatenate(parts, axis=1)
    return np.asarray(joined / np.maximum(np.linalg.norm(joined, axis=1, keepdims=True), 1e-12))


def _clusters(points: np.ndarray, min_size: int) -> np.ndarray:
    """A cluster number per point (-1: none)."""
    if len(points) < min_size * 2:
        return np.full(len(points), -1)
    from sklearn.cluster import HDBSCAN

    model = HDBSCAN(min_cluster_size=min_size, metric="euclidean", copy=True)
    return np.asarray(model.fit_predict(points))


# A cluster's members must be this much more alike among themselves (mean cosine) than
# to the rest of the library: HDBSCAN also groups the leftovers that are merely equally
# far from everything.
MIN_COHESION = 0.1


def _cohesive(points: np.ndarray, group: Sequence[int]) -> bool:
    inside = points[list(group)]
    n = len(inside)
    within = (float((inside @ inside.T).sum()) - n) / max(n * (n - 1), 1)
    others = np.setdiff1d(np.arange(len(points)), group)
    if not len(others):
        return True
    sample = np.random.default_rng(0).choice(others, min(len(others), 1000), replace=False)
    between = float((inside @ points[sample].T).mean())
    return within - between >= MIN_COHESION


def _labels(profiles: Profiles, groups: Sequence[Sequence[int]]) -> list[str]:
    """Class-based TF-IDF: each group's words and sound labels pooled, the terms most
    frequent in it against how frequent they are in all groups."""
    from scipy.sparse import hstack

    blocks = [m for m in (profiles.words, profiles.labels) if m is not None]
    if not blocks or not groups:
        return ["" for _ in groups]
    names = np.concatenate(
        [
            n
            for m, n in (
                (profiles.words, profiles.vocabulary),
                (profiles.labels, profiles.label_names),
            )
            if m is not None
        ]
    )
    terms = hstack([(m > 0).astype(np.float32) for m in blocks]).tocsr()
    counts = np.vstack([np.asarray(terms[list(g)].sum(axis=0)).ravel() for g in groups])
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-12)
    average = counts.sum() / len(groups)
    idf = np.log(1.0 + average / np.maximum(counts.sum(axis=0), 1e-12))
    weight = tf * idf[None, :]
    out = []
    for row in weight:
        order = [i for i in np.argsort(-row, kind="stable")[:LABEL_WORDS] if row[i] > 0]
        out.append(", ".join(str(names[i]) for i in order))
    return out


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
    # Fewer videos than two themes' worth: nothing to cluster.
    enough = len(profiles.videos) >= 2 * settings.themes.min_size
    points = _points(profiles) if enough else None
    groups: list[list[int]] = []
    if points is not None:
        found = _clusters(points, settings.themes.min_size)
        by_cluster: dict[int, list[int]] = defaultdict(list)
        for row, cluster in enumerate(found.tolist()):
            if cluster >= 0:
                by_cluster[cluster].append(row)
        groups = [g for g in (by_cluster[c] for c in sorted(by_cluster)) if _cohesive(points, g)]
    labels = _labels(profiles, groups)
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
    paths = library.store.stored_paths()
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
