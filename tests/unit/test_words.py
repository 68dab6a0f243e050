"""Seeing from words: the map from shot vectors into the text space, learned from the
words said with shots, finds shots no word was said with (`learning.words`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from videolearn.extractors.text_embed import TextEmbedder
from videolearn.learning.words import SeenWords, learn_seen_words, pair_up

# What is shown, and what a person filming it says, in four languages.
SHOWN = {
    "dog": ("The dog runs across the lawn.", "Der Hund rennt über den Rasen."),
    "boat": ("A sailing boat on the lake.", "Un barco de vela en el lago."),
    "cake": ("She cuts the birthday cake.", "Elle coupe le gâteau d'anniversaire."),
    "snow": ("Snow is falling on the street.", "Es schneit auf der Straße."),
    "piano": ("He plays the piano.", "Il joue du piano."),
    "train": ("The train leaves the station.", "El tren sale de la estación."),
}
QUERIES = {"dog": "dog", "boat": "Segelboot", "cake": "gâteau", "snow": "nieve", "piano": "piano"}


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    e = TextEmbedder()
    e.load()
    return e


def _looks(rng: np.random.Generator, per: int) -> tuple[np.ndarray, list[str]]:
    """Shot vectors: each thing its own direction in a 64-d space, seen with noise."""
    centres = {name: rng.normal(size=64) for name in SHOWN}
    names = [name for name in SHOWN for _ in range(per)]
    looks = np.stack([centres[n] + rng.normal(scale=0.8, size=64) for n in names])
    return (looks / np.linalg.norm(looks, axis=1, keepdims=True)).astype(np.float32), names


def test_shots_with_no_words_are_found_by_a_query_in_another_language(
    embedder: TextEmbedder, tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    centres_seed = rng.integers(1 << 30)
    looks, names = _looks(np.random.default_rng(centres_seed), 12)
    said = [SHOWN[n][k % 2] for k, n in enumerate(names)]
    texts = embedder.passages(said)
    learned = learn_seen_words(looks, texts, [(i, i) for i in range(len(names))], "av:test")
    # New shots of the same things, silent: found by the thing's name in any language.
    silent, silent_names = _looks(np.random.default_rng(centres_seed), 4)
    silent = silent + np.random.default_rng(1).normal(scale=0.05, size=silent.shape)
    projected = learned.project(silent.astype(np.float32))
    hits = 0
    for name, query in QUERIES.items():
        top = np.argsort(-(projected @ embedder.query(query)))[:4]
        hits += sum(silent_names[i] == name for i in top)
    assert hits / (4 * len(QUERIES)) >= 0.75  # chance: 1 in 6
    # An untrained map of the same shape does not.
    blind = SeenWords(
        np.random.default_rng(2).normal(size=learned.weight.shape).astype(np.float32),
        learned.bias,
        "av:test",
        0,
        0,
        0,
        0,
        0.0,
    )
    projected = blind.project(silent.astype(np.float32))
    chance_hits = sum(
        silent_names[i] == name
        for name, query in QUERIES.items()
        for i in np.argsort(-(projected @ embedder.query(query)))[:4]
    )
    assert chance_hits < hits / 2
    # Search compares without mapping every shot: the same cosines.
    queries = np.stack([embedder.query(q) for q in QUERIES.values()])
    np.testing.assert_allclose(
        learned.similarities(silent, queries), learned.project(silent) @ queries.T, atol=1e-5
    )
    # Saved and read back, it maps alike.
    learned.save(tmp_path / "words.npz")
    again = SeenWords.load(tmp_path / "words.npz")
    assert again.model == "av:test" and again.pairs == len(names)
    np.testing.assert_allclose(again.project(silent), learned.project(silent), atol=1e-6)


def test_sentences_pair_with_the_shots_of_their_video_near_them() -> None:
    shots = [("a", 0.0, 5.0), ("a", 5.0, 12.0), ("a", 30.0, 40.0), ("b", 0.0, 10.0)]
    sentences = [("a", 6.0, 8.0), ("a", 20.0, 26.0), ("c", 0.0, 3.0)]
    assert pair_up(shots, sentences, window_s=2.0) == [(0, 0), (1, 0)]
    assert pair_up(shots, sentences, window_s=9.0) == [(0, 0), (1, 0), (1, 1), (2, 1)]


def test_nothing_to_learn_from_is_said() -> None:
    with pytest.raises(ValueError, match="no shot with words"):
        learn_seen_words(np.zeros((2, 4), np.float32), np.zeros((2, 384), np.float32), [], "m")


def test_doctor_says_when_search_cannot_use_the_map(tmp_path: Path) -> None:
    from videolearn import load_settings, open_library
    from videolearn.apps.catalog import doctor
    from videolearn.learning.embed import DEFAULT_CHECKPOINT, embed_model_name
    from videolearn.learning.words import WORDS_MAP, library_map

    settings = load_settings(tmp_path / "lib")
    path = settings.library / WORDS_MAP
    weights = embed_model_name(DEFAULT_CHECKPOINT)
    learned = SeenWords(
        np.eye(4, 8, dtype=np.float32), np.zeros(8, np.float32), weights, 1, 1, 1, 1, 0.0
    )

    def notices() -> list[str]:
        with open_library(create=True, settings=settings) as lib:
            return [n for n in doctor(lib).notices if "learn --words" in n]

    assert notices() == []  # no map: nothing to say
    learned.save(path)
    assert notices() == [] and library_map(settings) is not None
    # `learn` wrote new weights (here: the map names others): search leaves it unused.
    replace(learned, model="av.pt:0123456789abcdef").save(path)
    [notice] = notices()
    assert "av.pt:0123456789abcdef" in notice and weights in notice
    assert library_map(settings) is None
    path.write_bytes(b"not a map")
    [notice] = notices()
    assert "cannot be read" in notice and str(path) in notice
    assert library_map(settings) is None
