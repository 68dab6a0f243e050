"""Moment search over a small library with known speech and captions: words find their
moment, meaning finds it across languages, and the command prints the documented shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from videolearn.apps.search import (
    MomentHit,
    QueryPart,
    Searcher,
    SearchFilters,
    group_by_video,
    highlight,
    hits_by_video,
    parse_query,
    search_moments,
)
from videolearn.config import load_settings
from videolearn.errors import QueryError
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
OLD_FILE = datetime(2020, 6, 1, 12, 0)
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
    # An older file, for the date filters.
    os.utime(german, (OLD_FILE.timestamp(), OLD_FILE.timestamp()))
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


def _search(
    library: Path,
    query: str,
    embedder: TextEmbedder,
    limit: int | None = 10,
    every: bool = False,
    **filters: Any,
) -> list[MomentHit]:
    with open_library(library) as lib:
        return search_moments(lib, query, limit, embedder, SearchFilters(**filters), every)


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


@pytest.mark.parametrize(
    "query", ["stock market crash", "a cat sleeping on the sofa", "Flughafen Check-in Schalter"]
)
def test_a_query_nothing_answers_returns_nothing(
    library: Path, embedder: TextEmbedder, query: str
) -> None:
    assert _search(library, query, embedder) == []
    assert _search(library, query, embedder, limit=None, every=True) == []


def test_only_moments_that_answer_are_shown(library: Path, embedder: TextEmbedder) -> None:
    # Every moment of the library is near any query by cosine (0.75-0.85): only the
    # caption holding the word, and what means the same, come back.
    hits = _search(library, "harbour", embedder)
    assert hits and all(Path(h.path).name == "english.mp4" for h in hits)


def test_a_caption_found_by_meaning_alone_needs_the_on_screen_texts_floor(
    library: Path, embedder: TextEmbedder
) -> None:
    # Captions are a few words: unrelated queries reach 4.5 on them more often than on
    # speech, so a caption found by meaning alone needs `search.min_text_relevance`.
    (hit,) = _search(library, "greetings from the road", embedder)
    assert hit.snippet == "Grüße aus der Straße" and set(hit.scores) == {"vector"}
    found = hit.scores["vector"]
    for floor, shown in ((found - 0.01, True), (found + 0.01, False)):
        settings = load_settings(library, search={"min_text_relevance": floor})
        with open_library(settings=settings) as lib:
            hits = search_moments(lib, "greetings from the road", 10, embedder)
        assert bool(hits) is shown, (floor, hits)


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
    spoken = _search(library, "the park", embedder, modalities=("speech",))
    assert spoken and {h.modality for h in spoken} == {"speech"}
    with open_library(library) as lib:
        german = lib.resolve(str(library.parent / "german.mp4")).video_id
    only = _search(library, "the park", embedder, video_ids=(german,))
    assert only and {Path(h.path).name for h in only} == {"german.mp4"}
    bad = subprocess.run(
        [*CLI, "search", "park", "--modality", "Speech!", "--library", str(library)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2 and "not a modality" in bad.stderr


def _names(hits: list[MomentHit]) -> set[str]:
    return {Path(h.path).name for h in hits}


def test_path_date_language_and_duration_filters(library: Path, embedder: TextEmbedder) -> None:
    assert _names(_search(library, "park", embedder, path_glob="*/german.*")) == {"german.mp4"}
    assert _search(library, "park", embedder, path_glob="*.avi") == []
    # german.mp4 was last changed in 2020, english.mp4 now.
    cut = datetime(2021, 1, 1)
    assert _names(_search(library, "park", embedder, after=cut)) == {"english.mp4"}
    assert _names(_search(library, "park", embedder, before=cut)) == {"german.mp4"}
    german = _search(library, "park", embedder, language="de")
    assert german and _names(german) == {"german.mp4"}
    assert _search(library, "park", embedder, language="fr") == []
    apples = _search(library, "apples", embedder, limit=1, min_duration_s=1.0)
    assert apples and apples[0].span.duration_s >= 1.0
    assert _search(library, "apples", embedder, min_duration_s=60.0) == []
    with pytest.raises(QueryError, match="not a language code"):
        SearchFilters(language="German")


def test_all_finds_every_moment_with_the_words_by_video_in_time_order(
    library: Path, embedder: TextEmbedder
) -> None:
    every = _search(library, "park", embedder, limit=None, every=True)
    # Each passage says "park" once ("Park" in German); nothing else does.
    assert [(Path(h.path).name, h.modality) for h in every] == [
        ("english.mp4", "speech"),
        ("german.mp4", "speech"),
    ]
    assert all("park" in h.snippet.lower() for h in every)
    groups = group_by_video(every)
    assert [Path(p).name for p, _ in groups] == ["english.mp4", "german.mp4"]
    # Every caption and sentence mentioning the harbour or the evening, in time order.
    evening = _search(library, "evening", embedder, limit=None, every=True, video_ids=())
    starts = [h.span.start_s for h in evening if Path(h.path).name == "english.mp4"]
    assert starts == sorted(starts) and starts
    # A query no moment holds and nothing means: nothing.
    assert _search(library, "xylophone quartz", embedder, limit=None, every=True) == []


def test_a_pages_groups_place_each_video_by_its_best_moment(
    library: Path, embedder: TextEmbedder
) -> None:
    # Best first across two videos: the German caption, then the English one, then the
    # German video's speech (a made list, so that the order is not the search's own).
    street = _search(library, "strasse", embedder)[0]
    harbour = _search(library, "harbour", embedder)[0]
    park = {Path(h.path).name: h for h in _search(library, "park", embedder)}
    with open_library(library) as lib:
        groups = hits_by_video(lib, [street, harbour, park["german.mp4"]])
        german = lib.resolve(street.path)
    assert [(Path(g.path).name, g.name, g.pictures) for g in groups] == [
        ("german.mp4", "german.mp4", True),
        ("english.mp4", "english.mp4", True),
    ]
    assert groups[0].video_id == german.video_id
    # A video's moments stay best first, not in time order: the caption at 4 s before
    # the speech that starts sooner.
    assert [h.modality for h in groups[0].hits] == ["text", "speech"]
    assert groups[0].hits[0].span.start_s > groups[0].hits[1].span.start_s


def test_a_query_can_ask_for_moments_that_happen_together(
    library: Path, embedder: TextEmbedder
) -> None:
    both = _search(library, "text:harbour & speech:weather", embedder)
    assert len(both) == 1
    hit = both[0]
    assert (Path(hit.path).name, hit.modality) == ("english.mp4", "text+speech")
    assert "**Harbour**" in hit.snippet and "**weather**" in hit.snippet
    assert {"text.text", "speech.text"} <= set(hit.scores)
    assert hit.span.start_s == 0.0 and hit.span.end_s >= 3.0
    # Nobody says "harbour": no moment has both.
    assert _search(library, "text:strasse & speech:harbour", embedder) == []
    # A modality on its own narrows the query.
    spoken = _search(library, "speech:park", embedder)
    assert spoken and {h.modality for h in spoken} == {"speech"}


def test_queries_are_parsed_into_parts() -> None:
    assert parse_query("sound:laughter & speech:birthday") == [
        QueryPart("laughter", "sound"),
        QueryPart("birthday", "speech"),
    ]
    # Only a modality's name before a colon names one.
    assert parse_query("note: buy milk") == [QueryPart("note: buy milk")]
    with pytest.raises(QueryError, match="no words"):
        parse_query("speech: & sound:music")
    with pytest.raises(QueryError, match="no words"):
        parse_query("   ")


def test_the_command_groups_every_match_and_rejects_bad_filters(library: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, "search", *args, "--library", str(library)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    out = run("park", "--all")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].endswith("english.mp4  (1 moments)") and "**park**" in lines[1]
    assert lines[2].endswith("german.mp4  (1 moments)") and "**Park**" in lines[3]
    dated = run("park", "--json", "--before", "2021-01-01")
    assert {Path(json.loads(r)["path"]).name for r in dated.stdout.splitlines()} == {"german.mp4"}
    bad = run("park", "--after", "2022-01-01", "--before", "2021-01-01")
    assert bad.returncode == 2 and "is not before" in bad.stderr
    assert "not a language code" in run("park", "--language", "German").stderr
    assert "has no words" in run("sound: & speech:x").stderr


def test_a_searcher_keeps_the_vectors_of_its_latest_queries(library: Path) -> None:
    """The same query again (another page, another filter) skips embedding it; the
    least recently asked query is the one let go, and the answers stay the same."""
    settings = load_settings(library, search={"cached_queries": 2})
    with open_library(settings=settings) as lib:
        searcher = Searcher(lib)
        first = searcher.search("ferry", 5)
        searcher.search("market", 5)
        assert searcher.search("ferry", 5) == first  # from the kept vector
        searcher.search("harbour", 5)  # "market" was asked longest ago: let go
        kept = searcher._embedder._recent
        assert list(kept) == ["ferry", "harbour"]
        assert not kept["ferry"].flags.writeable  # one vector shared by every search
    with open_library(settings=load_settings(library, search={"cached_queries": 0})) as lib:
        searcher = Searcher(lib)
        searcher.search("ferry", 5)
        assert not searcher._embedder._recent
