"""A library that learns what its shots look like from what is said with them
(`videolearn learn --words`), then finds silent shots by their look: generated clips of
moving shapes (what the shipped model was trained on), some with a person saying what
they show (espeak-ng, heard by Whisper), others silent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from videolearn.apps.catalog import forget
from videolearn.apps.search import SearchFilters, search_moments
from videolearn.config import load_settings
from videolearn.learning.synthetic import SEEN, Concept, render
from videolearn.library import open_library
from videolearn.samples import read_audio, speak, write_av

RATE = 16_000
CIRCLE = next(c for c in SEEN if (c.shape, c.motion) == ("circle", "slide"))
SQUARE = next(c for c in SEEN if (c.shape, c.motion) == ("square", "bounce"))
SAID = {
    CIRCLE: ("A circle slides from one side to the other.", "The circle is sliding sideways."),
    SQUARE: ("A square is bouncing up and down.", "Look, the square bounces on the floor."),
}
EXTRACTORS = ["file_hash", "media_info", "shots", "speech", "text_embed", "av_embed"]


def _clip(path: Path, concept: Concept, rng: np.random.Generator, voice: np.ndarray) -> None:
    seconds = max(3.0, voice.size / RATE + 0.5)
    clip = render(concept, rng, duration_s=seconds, fps=8, size_px=32)
    sound = np.zeros(round(seconds * RATE), np.float32)
    sound[: voice.size] = voice
    write_av(path, clip.frames, 8.0, sound, RATE)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("seen-words")
    media = root / "media"
    media.mkdir()
    rng = np.random.default_rng(0)
    for concept, sentences in SAID.items():
        for n in range(6):
            voice = read_audio(speak(root / "voice.wav", sentences[n % 2], "en"))
            _clip(media / f"said-{concept.shape}-{n}.mp4", concept, rng, voice)
        for n in range(3):  # no word said: found only by their look
            _clip(media / f"silent-{concept.shape}-{n}.mp4", concept, rng, np.zeros(0, np.float32))
    settings = load_settings(root / "library", extractors=EXTRACTORS, keep_versions_s=0)
    with open_library(create=True, settings=settings) as lib:
        results = lib.index([media])
        assert {r.status for r in results} == {"indexed"}, results
    return root / "library"


def test_before_learning_a_silent_shot_is_not_found(library: Path) -> None:
    with open_library(library) as lib:
        hits = search_moments(lib, "square bouncing", limit=20)
    assert not [h for h in hits if "silent" in Path(h.path).name]


def test_silent_shots_are_found_by_their_look_after_learning_from_words(library: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "videolearn", "learn", "--words", "--library", str(library)],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "from 12 shot-sentence pairs" in done.stdout
    assert (library / "models" / "words.npz").is_file()
    # Twelve shots with words are little to learn from: the silent ones stand 1-1.5
    # standard deviations above what they score for unrelated queries, under the default
    # floor (a shot found by its look alone shows at 4.5), so this library sets its own.
    settings = load_settings(library, extractors=EXTRACTORS, search={"min_seen_relevance": 0.8})
    with open_library(library, settings=settings) as lib:
        for query, shape in (("square bouncing", "square"), ("Kreis gleitet zur Seite", "circle")):
            hits = search_moments(lib, f"visual:{query}", limit=20)
            silent = [Path(h.path).name for h in hits if "silent" in Path(h.path).name]
            assert silent, (query, [h.path for h in hits])
            assert all(shape in name for name in silent), (query, silent)
            assert {h.modality for h in hits} == {"visual"}
        # The shots' vectors are kept between queries under the library's state: a video
        # indexed since is found by its look at the next query, and one forgotten is not.
        newer = library.parent / "media" / "silent-square-later.mp4"
        _clip(newer, SQUARE, np.random.default_rng(7), np.zeros(0, np.float32))
        [added] = lib.index([newer])
        hits = search_moments(lib, "visual:square bouncing", limit=20)
        assert added.video_id in {h.video_id for h in hits}
        # Kept to the videos asked for.
        only = search_moments(
            lib, "visual:square bouncing", 20, filters=SearchFilters(video_ids=(added.video_id,))
        )
        assert only and {h.video_id for h in only} == {added.video_id}
        forget(lib, added.video_id)
        hits = search_moments(lib, "visual:square bouncing", limit=20)
        assert added.video_id not in {h.video_id for h in hits}
        assert [h for h in hits if "silent" in Path(h.path).name]
