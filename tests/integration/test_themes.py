"""Themes over a library whose topics are known: clusters found and named by their words,
ids kept as the library grows, a planted topic found as a new theme, forgetting removes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from videolearn.apps.recommend import similar
from videolearn.apps.themes import themes, update_themes
from videolearn.config import load_settings
from videolearn.extractors.base import Moment, TextEmbedding
from videolearn.library import Library, open_library
from videolearn.store import ExtractorOutput
from videolearn.store.tables import VideoRow
from videolearn.types import TimeSpan

TOPICS = {
    "football": "football goal match stadium referee",
    "cooking": "recipe oven flour pasta kitchen",
    "sailing": "boat harbour wind sail anchor",
}
PLANTED = {"astronomy": "telescope planet orbit comet galaxy"}
ODD = ["zebra quartz violin", "tulip canyon magnet", "pepper lantern glacier"]
DAY_S = 86_400.0


def _write(
    lib: Library,
    topic: str,
    words: str,
    n: int,
    rng: np.random.Generator,
    *,
    said: str = "",
    unsure: frozenset[str] = frozenset(),
) -> str:
    """A video of `topic`: its sentence's vector near the topic's centre; it says 4 of
    `words` and 3 stop words, or `said` when given, each word heard with a probability
    of 0.9, those in `unsure` 0.3."""
    video_id = hashlib.sha256(f"{topic}{n}".encode()).hexdigest()
    seed = int(hashlib.sha256(topic.encode()).hexdigest()[:8], 16)
    centre = np.random.default_rng(seed).normal(size=384)
    vector = centre + 0.6 * rng.normal(size=384)
    vocabulary = words.split()
    said = said or (
        " ".join(rng.choice(vocabulary, 4))
        + " "
        + " ".join(rng.choice(["the", "and", "today", "we"], 3))
    )
    span = TimeSpan(0, 5)
    outputs = [
        ExtractorOutput(
            "speech",
            1,
            [
                Moment(
                    span,
                    "speech",
                    text=said,
                    attrs={
                        "language": "en",
                        "words": [
                            {"word": f" {w}", "probability": 0.3 if w in unsure else 0.9}
                            for w in said.split()
                        ],
                    },
                )
            ],
        ),
        ExtractorOutput(
            "text_embed",
            2,
            [
                TextEmbedding(
                    span,
                    "e5_speech",
                    (vector / np.linalg.norm(vector)).astype(np.float32),
                    "e5",
                    said,
                )
            ],
        ),
    ]
    with lib.store.writing():
        lib.store.write_video(
            VideoRow(video_id, f"/v/{topic}-{n:02d}.mp4", duration_s=5.0), outputs
        )
    return video_id


@pytest.fixture
def library(tmp_path: Path) -> Path:
    settings = load_settings(tmp_path / "library", keep_versions_s=0)
    rng = np.random.default_rng(1)
    with open_library(create=True, settings=settings) as lib:
        for topic, words in TOPICS.items():
            for n in range(10):
                _write(lib, topic, words, n, rng)
        for n, words in enumerate(ODD):  # unrelated videos
            _write(lib, f"odd{n}", words, n, rng)
        update_themes(lib, now=0.0)
    return tmp_path / "library"


def _themes_json(library: Path) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "videolearn", "themes", "--library", library, "--json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _topic(path: str) -> str:
    return Path(path).name.rsplit("-", 1)[0]


def test_topics_become_named_themes(library: Path) -> None:
    with open_library(library) as lib:
        found = themes(lib, now=0.0)
    assert len(found) == 3
    for theme in found:
        topics = {_topic(m.path) for m in theme.members}
        assert len(topics) == 1, topics
        (topic,) = topics
        assert theme.size == 10
        assert set(theme.label.split(", ")) <= set(TOPICS[topic].split()), theme.label
        assert len(theme.label.split(", ")) == 3
        assert not theme.growing


def test_a_label_holds_only_words_most_members_say(tmp_path: Path) -> None:
    """One topic in four languages shares a meaning and no word: its label is the words of
    the member most like the rest, never a mix of one word from each; a word one member of
    a topic says is not in its label."""
    settings = load_settings(tmp_path / "library", keep_versions_s=0)
    rng = np.random.default_rng(3)
    said = {
        "en": "harbour ferry boats leave early",
        "de": "Hafen Fähre Boote fahren früh",
        "es": "puerto transbordador barcos salen temprano",
        "fr": "port traversier bateaux partent tôt",
    }
    with open_library(create=True, settings=settings) as lib:
        for n, text in enumerate(said.values()):
            _write(lib, "ferry", "", n, rng, said=text)
        for n in range(6):
            _write(lib, "football", TOPICS["football"], n, rng)
        _write(lib, "football", "", 6, rng, said="football goal match stadium zeppelin")
        found = update_themes(lib, now=0.0)
    by_topic = {_topic(t.members[0].path): t for t in found}
    assert set(by_topic) == {"ferry", "football"}
    ferry = by_topic["ferry"].label.split(", ")
    assert len(ferry) == 3
    assert any(set(ferry) <= {w.casefold() for w in text.split()} for text in said.values())
    football = by_topic["football"].label.split(", ")
    assert set(football) <= set(TOPICS["football"].split()), football


def test_a_word_heard_unsurely_names_nothing(tmp_path: Path) -> None:
    """A word every member of a topic was heard to say, each time with a probability
    under a half (a mishearing), is neither in the theme's label nor what two of its
    videos both mention."""
    settings = load_settings(tmp_path / "library", keep_versions_s=0)
    rng = np.random.default_rng(4)
    sure = TOPICS["sailing"].split()
    with open_library(create=True, settings=settings) as lib:
        for n in range(6):
            said = " ".join([*rng.choice(sure, 3), "zeppelin", "zeppelin"])
            _write(lib, "sailing", "", n, rng, said=said, unsure=frozenset({"zeppelin"}))
        for n in range(8):
            _write(lib, "football", TOPICS["football"], n, rng)
        found = update_themes(lib, now=0.0)
        sailing = next(t for t in found if _topic(t.members[0].path) == "sailing")
        label = sailing.label.split(", ")
        assert label and set(label) <= set(sure), label
        answer = similar(lib, [sailing.members[0].path], limit=5)
    mentions = [r for item in answer.results for r in item.reasons if "mention" in r]
    assert mentions and not any("zeppelin" in r for r in mentions), mentions


def test_ids_hold_as_the_library_grows_and_a_new_topic_appears(library: Path) -> None:
    rng = np.random.default_rng(2)
    with open_library(library) as lib:
        before = {m.video_id: t.theme_id for t in themes(lib, now=0.0) for m in t.members}
        for topic, words in TOPICS.items():  # 20% more videos
            for n in range(10, 12):
                _write(lib, topic, words, n, rng)
        for topic, words in PLANTED.items():
            for n in range(6):
                _write(lib, topic, words, n, rng)
        after = update_themes(lib, now=DAY_S)
    theme_of = {m.video_id: t.theme_id for t in after for m in t.members}
    kept = sum(theme_of.get(v) == t for v, t in before.items())
    assert kept >= 0.95 * len(before)
    new = [t for t in after if t.theme_id not in set(before.values())]
    assert len(new) == 1 and {_topic(m.path) for m in new[0].members} == {"astronomy"}
    assert "telescope" in new[0].label or "planet" in new[0].label or "comet" in new[0].label
    grown = [t for t in after if t.theme_id in set(before.values())]
    assert all(t.growing and t.size == 12 for t in grown)
    assert not new[0].growing  # new, not growing
    joined = {m.path: m.joined for t in grown for m in t.members}
    assert joined["/v/football-00.mp4"] == 0.0 and joined["/v/football-11.mp4"] == DAY_S


def test_forgetting_a_video_removes_it_from_its_theme(library: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "videolearn", "forget", "/v/cooking-03.mp4", "--library", library],
        check=True,
        capture_output=True,
        timeout=120,
    )
    lines = _themes_json(library)
    assert sorted(t["size"] for t in lines) == [9, 10, 10]
    cooking = next(t for t in lines if t["size"] == 9)
    assert set(cooking) == {"id", "label", "size", "growing", "members"}
    assert "/v/cooking-03.mp4" not in {m["path"] for m in cooking["members"]}
    assert set(cooking["members"][0]) == {"video_id", "path", "joined"}


def test_the_api_and_the_page_show_the_themes(library: Path) -> None:
    from tests.server.test_api import Server

    with Server(load_settings(library)) as api:
        listed = api.get("/api/v1/themes").json()
        page = api.get("/themes")
    assert listed == _themes_json(library)
    assert page.status_code == 200
    for theme in listed:
        assert theme["label"] in page.text
        assert all(f'href="/videos/{m["video_id"]}"' in page.text for m in theme["members"])


def test_similar_lists_only_what_comes_near_its_best(tmp_path: Path) -> None:
    """A sailing video gets the other sailing videos; videos that share one word with it
    and nothing else come far below them and are not listed (they are with
    `recommend.relative_score` 0)."""
    settings = load_settings(tmp_path / "library", keep_versions_s=0)
    rng = np.random.default_rng(6)
    with open_library(create=True, settings=settings) as lib:
        for n in range(4):
            _write(lib, "sailing", TOPICS["sailing"], n, rng)
        for n in range(8):
            _write(lib, "football", TOPICS["football"], n, rng)
        for n, words in enumerate(ODD):
            _write(lib, f"odd{n}", "", 0, rng, said=f"{words} boat")
        query = next(v.path for v in lib.store.videos() if _topic(v.path) == "sailing")
        shown = [_topic(r.path) for r in similar(lib, [query]).results]
    assert shown == ["sailing"] * 3, shown
    everything = settings.recommend.model_copy(update={"relative_score": 0.0})
    with open_library(settings=settings.model_copy(update={"recommend": everything})) as lib:
        shown = [_topic(r.path) for r in similar(lib, [query]).results]
    assert shown[:3] == ["sailing"] * 3 and len(shown) > 3, shown
