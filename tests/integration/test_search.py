"""Moment search over a small library with known speech and captions: words find their
moment, meaning finds it across languages, and the command prints the documented shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from videolearn.apps.search import highlight, search_moments
from videolearn.config import load_settings
from videolearn.extractors.text_embed import TextEmbedder
from videolearn.library import open_library
from videolearn.samples import (
    SPOKEN_PASSAGES,
    Caption,
    read_audio,
    speak,
    write_captioned_video,
)

CLI = [sys.executable, "-m", "videolearn"]
WANTED = ["file_hash", "media_info", "speech", "ocr", "text_embed"]


def _spoken(folder: Path, voice: str) -> np.ndarray:
    return read_audio(speak(folder / f"{voice}.wav", SPOKEN_PASSAGES[voice], voice))


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("search")
    english = write_captioned_video(
        folder / "english.mp4",
        [Caption("Welcome to the Harbour", 0.0, 4.0)],
        8.0,
        audio=_spoken(folder, "en"),
    )
    german = write_captioned_video(
        folder / "german.mp4",
        [Caption("Grüße aus der Straße", 4.0, 8.0)],
        9.0,
        audio=_spoken(folder, "de"),
    )
    settings = load_settings(
        folder / "library", keep_versions_s=0, extractors=WANTED, ocr={"engine": "tesseract"}
    )
    with open_library(create=True, settings=settings) as lib:
        results = lib.index([english, german])
    assert [r.status for r in results] == ["indexed", "indexed"], results
    return folder / "library"


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    model = TextEmbedder()
    model.load()
    return model


def _search(library: Path, query: str, embedder: TextEmbedder, limit: int = 10) -> list:
    with open_library(library) as lib:
        return search_moments(lib, query, limit, embedder)


def test_spoken_words_find_their_sentence(library: Path, embedder: TextEmbedder) -> None:
    first = _search(library, "basket of apples", embedder)[0]
    assert (Path(first.path).name, first.modality) == ("english.mp4", "speech")
    # Whisper hears "basket on apples" in espeak's voice.
    assert first.snippet.startswith("My sister brought a **basket**")
    assert "**apples**" in first.snippet
    assert set(first.scores) == {"text", "vector"}
    # The second sentence of the passage, not the whole passage.
    assert 2.0 < first.span.start_s < 3.5 and first.span.end_s < 7.0


def test_words_on_screen_find_their_caption(library: Path, embedder: TextEmbedder) -> None:
    first = _search(library, "harbour", embedder)[0]
    assert (Path(first.path).name, first.modality) == ("english.mp4", "text")
    assert first.snippet == "Welcome to the **Harbour**"
    assert first.span.start_s == 0.0 and 3.0 <= first.span.end_s <= 4.5
    # Accents and ß fold, as in the full-text index.
    street = _search(library, "strasse", embedder)[0]
    assert (Path(street.path).name, street.modality) == ("german.mp4", "text")
    assert "**Straße**" in street.snippet


def test_a_query_in_one_language_finds_speech_in_others(
    library: Path, embedder: TextEmbedder
) -> None:
    hits = _search(library, "nous resterons là-bas jusqu'au soir", embedder, limit=4)
    speech = {Path(h.path).name: h for h in hits if h.modality == "speech"}
    assert set(speech) == {"english.mp4", "german.mp4"}
    assert speech["german.mp4"].snippet == "Wir bleiben dort bis zum Abend."
    assert speech["english.mp4"].snippet == "We will stay there until the evening."
    assert all(set(h.scores) == {"vector"} for h in speech.values())  # no word in common


def test_the_command_prints_a_line_per_moment(library: Path) -> None:
    out = subprocess.run(
        [*CLI, "search", "apples", "--json", "--limit", "3", "--library", str(library)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert 1 <= len(rows) <= 3
    keys = {"video_id", "path", "start_s", "end_s", "score", "modality", "snippet", "scores"}
    assert all(set(r) == keys for r in rows)
    assert rows[0]["modality"] == "speech" and "**apples**" in rows[0]["snippet"]
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)


def test_highlight_marks_whole_words_only() -> None:
    assert highlight("Apples and pineapples", "apples") == "**Apples** and pineapples"
    assert highlight("Grüße aus der Straße", "grusse") == "**Grüße** aus der Straße"
    assert highlight("nothing here", "  ") == "nothing here"


def test_filters_keep_one_modality_or_one_video(library: Path, embedder: TextEmbedder) -> None:
    spoken = _search_filtered(library, embedder, modalities=["speech"])
    assert spoken and {h.modality for h in spoken} == {"speech"}
    with open_library(library) as lib:
        german = lib.resolve(str(library.parent / "german.mp4"))["video_id"]
    only = _search_filtered(library, embedder, video_ids=[german])
    assert only and {Path(h.path).name for h in only} == {"german.mp4"}
    bad = subprocess.run(
        [*CLI, "search", "park", "--modality", "Speech!", "--library", str(library)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2 and "not a modality" in bad.stderr


def _search_filtered(library: Path, embedder: TextEmbedder, **filters: list[str]) -> list:
    with open_library(library) as lib:
        return search_moments(lib, "the park", 10, embedder, **filters)
