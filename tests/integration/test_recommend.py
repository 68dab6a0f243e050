"""Same sound and "more like this", through the library and the command line: a song
found inside other videos over different pictures and located in both; recommendations
that explain themselves; re-uploads set apart, and a person's word on copies kept."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from videolearn.apps.recommend import similar
from videolearn.apps.sound import sound_alike
from videolearn.config import load_settings
from videolearn.library import open_library
from videolearn.samples import (
    Caption,
    cut_video,
    read_audio,
    song,
    sound_effect,
    speak,
    write_av,
    write_captioned_video,
)

CLI = [sys.executable, "-m", "videolearn"]
RATE = 16_000
WANTED = ["file_hash", "media_info", "fingerprint", "sketch"]
CHAIRS = "threatexchange/videos"
# Where the song's stretches lie in each video: (song from, to, video from).
PLACED = {"dance.mp4": (5.0, 15.0, 25.0), "holiday.mp4": (20.0, 32.0, 3.0)}


def _pictures(seconds: float, seed: int) -> np.ndarray:
    colour = np.random.default_rng(seed).integers(0, 255, 3)
    return np.broadcast_to(colour, (round(seconds * 10), 48, 64, 3)).astype(np.uint8)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    folder = tmp_path_factory.mktemp("recommend")
    media = folder / "media"
    media.mkdir()
    music = song(40, seed=11)
    write_av(media / "song.mp4", _pictures(40, 1), 10, music, RATE)
    for n, (name, (start, end, at)) in enumerate(PLACED.items()):
        sound = np.random.default_rng(n).normal(0, 0.02, 60 * RATE).astype(np.float32)
        sound[round(at * RATE) : round((at + end - start) * RATE)] += music[
            round(start * RATE) : round(end * RATE)
        ]
        write_av(media / name, _pictures(60, 10 + n), 10, sound, RATE)
    write_av(media / "other.mp4", _pictures(30, 5), 10, song(30, seed=12), RATE)
    # A clip quoted from one of the chair videos: it shares a stretch, it is no copy.
    cut_video(shared_data / CHAIRS / "chair-orig-22-sd-bar.mp4", media / "quote.mp4", 2.0, 7.0)
    for chair in sorted((shared_data / CHAIRS).glob("chair-*.mp4")):
        shutil.copy(chair, media / chair.name)
    settings = load_settings(folder / "library", keep_versions_s=0, extractors=WANTED)
    with open_library(create=True, settings=settings) as lib:
        assert {r.status for r in lib.index([media])} == {"indexed"}
    return folder / "library"


def _cli(*args: str | Path, code: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == code, proc.stdout + proc.stderr
    return proc


def test_a_song_is_found_inside_other_videos_and_located(library: Path) -> None:
    media = library.parent / "media"
    proc = _cli("sound-alike", media / "song.mp4", "--library", library, "--json")
    found = {Path(d["path"]).name: d for d in map(json.loads, proc.stdout.splitlines())}
    assert set(found) == set(PLACED)
    for name, (start, end, at) in PLACED.items():
        (shared,) = found[name]["shared"]
        assert abs(shared["query_start_s"] - start) <= 1 and abs(shared["query_end_s"] - end) <= 1
        assert abs(shared["start_s"] - at) <= 1
        assert abs(shared["end_s"] - (at + end - start)) <= 1
    # Most shared first: 12 s of the song in the holiday video, 10 s in the dance one.
    assert list(found) == ["holiday.mp4", "dance.mp4"]
    assert "quote.mp4" not in found and not any(n.startswith("chair") for n in found)


def test_two_videos_with_stretches_of_one_song_share_only_those(library: Path) -> None:
    media = library.parent / "media"
    with open_library(library) as lib:
        found = sound_alike(lib, str(media / "dance.mp4"))
    assert [Path(a.path).name for a in found] == ["song.mp4"]
    (shared,) = found[0].shared
    assert abs(shared.query.start_s - 25) <= 1 and abs(shared.other.start_s - 5) <= 1
    assert found[0].describe().startswith("same audio track, 0:0")


def test_human_output_and_errors(library: Path, tmp_path: Path) -> None:
    media = library.parent / "media"
    out = _cli("sound-alike", media / "other.mp4", "--library", library).stdout
    assert out.strip() == "no indexed video shares its sound"
    out = _cli("sound-alike", media / "song.mp4", "--library", library, "--limit", "1").stdout
    assert out.startswith(str(media / "holiday.mp4"))
    shared = re.search(r"\(([\d.]+) s shared\)", out.splitlines()[0])
    assert shared and abs(float(shared[1]) - 12) <= 1
    err = _cli("sound-alike", tmp_path / "nope.mp4", "--library", library, code=2).stderr
    assert "nope.mp4" in err


def test_a_forgotten_video_is_no_longer_found(library: Path, tmp_path: Path) -> None:
    copy = tmp_path / "library"
    shutil.copytree(library, copy)
    media = library.parent / "media"
    _cli("forget", media / "holiday.mp4", "--library", copy)
    proc = _cli("sound-alike", media / "song.mp4", "--library", copy, "--json")
    assert [Path(json.loads(line)["path"]).name for line in proc.stdout.splitlines()] == [
        "dance.mp4"
    ]


def _similar(
    library: Path, *videos: str, extra: tuple[str, ...] = (), media: Path | None = None
) -> dict:
    media = media or library.parent / "media"
    args = [media / v for v in videos]
    proc = _cli("similar", *args, "--library", library, "--json", *extra)
    (answer,) = map(json.loads, proc.stdout.splitlines())
    return answer


def _names(entries: list[dict]) -> list[str]:
    return [Path(e["path"]).name for e in entries]


@pytest.mark.parametrize(
    "chair", ["chair-19-sd-bar.mp4", "chair-22-with-large-logo-bar.mp4", "chair-22-sd-grey-bar.mp4"]
)
def test_every_copy_of_a_chair_video_is_set_apart(library: Path, chair: str) -> None:
    answer = _similar(library, chair)
    family = {p.name for p in (library.parent / "media").glob("chair-*.mp4")} - {chair}
    assert set(_names(answer["duplicates"])) == family
    assert all(d["copy_of"] == answer["query"][0]["video_id"] for d in answer["duplicates"])
    # Each is a copy by the rule, or a copy of one that is (a large logo and a cut
    # together leave chair-19 and the large-logo copy 75% alike: one family through the
    # others).
    direct = [d for d in answer["duplicates"] if d["reason"].startswith("same pictures")]
    assert len(direct) >= len(family) - 1
    assert all(d in direct or d["reason"].startswith("a copy of ") for d in answer["duplicates"])
    assert not family & set(_names(answer["results"]))
    assert not any(r["copies"] for r in answer["results"])


def test_a_quoted_stretch_is_a_recommendation_not_a_copy(library: Path) -> None:
    answer = _similar(library, "chair-orig-22-sd-bar.mp4")
    assert "quote.mp4" not in _names(answer["duplicates"])
    quote = next(r for r in answer["results"] if r["path"].endswith("quote.mp4"))
    assert any(
        re.fullmatch(r"contains 0:0[1-3]-0:0[6-8] of .*chair-orig-22-sd-bar\.mp4", why)
        for why in quote["reasons"]
    ), quote["reasons"]


def test_the_same_song_comes_first_and_says_where(library: Path) -> None:
    answer = _similar(library, "song.mp4")
    assert answer["duplicates"] == []
    first, second = answer["results"][:2]
    assert _names([first, second]) == ["holiday.mp4", "dance.mp4"]
    assert first["scores"]["same_audio"] > 0.3
    # Whatever else is shown has a reason, scores under the partners, and scores in order.
    rest = answer["results"][2:]
    assert all(r["reasons"] and r["score"] < second["score"] for r in rest)
    scores = [r["score"] for r in answer["results"]]
    assert scores == sorted(scores, reverse=True)
    assert first["reasons"][0] == "same audio track, 0:03-0:15"
    assert "song.mp4" not in _names(answer["results"])


def test_the_sound_a_searched_video_shares_is_read_where_it_was_kept(
    library: Path, tmp_path: Path
) -> None:
    """The index run's search for copies keeps where each pair sharing sound shares it;
    `similar` reads that for a searched video instead of aligning its sound again: the
    same videos, the song located where it is (within a second; the search kept the
    fuller of the two sides' alignments, the query's own may be shorter)."""
    copy = tmp_path / "library"
    shutil.copytree(library, copy)
    with sqlite3.connect(copy / "ledger.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM copy_searched").fetchone()[0] > 0
        kept = db.execute(
            "SELECT COUNT(*) FROM copy_verdicts WHERE shared_a IS NOT NULL AND stretches != '[]'"
        ).fetchone()[0]
    assert kept > 0
    media = library.parent / "media"
    truth = {  # (query, other): where the song lies in the other
        **{("song.mp4", n): (at, at + end - start) for n, (start, end, at) in PLACED.items()},
        **{(n, "song.mp4"): (start, end) for n, (start, end, _) in PLACED.items()},
    }
    names = ["song.mp4", *PLACED]
    read = {n: _similar(copy, n, media=media)["results"] for n in names}
    for (query, other), (start_s, end_s) in truth.items():
        (found,) = [r for r in read[query] if Path(r["path"]).name == other]
        spans = re.fullmatch(r"same audio track, (\d+):(\d+)-(\d+):(\d+)", found["reasons"][0])
        assert spans, found["reasons"]
        a, b, c, d = map(int, spans.groups())
        assert abs(a * 60 + b - start_s) <= 1 and abs(c * 60 + d - end_s) <= 1, (query, other)
    with sqlite3.connect(copy / "ledger.sqlite") as db:
        db.execute("DELETE FROM copy_searched")
    for name in names:
        aligned = _similar(copy, name, media=media)["results"]
        assert _names(aligned) == _names(read[name])


def test_a_history_weighs_its_latest_video_most(library: Path) -> None:
    latest_song = _similar(library, "chair-19-sd-bar.mp4", "dance.mp4")
    assert _names(latest_song["results"])[0] == "song.mp4"
    assert {q["path"].rsplit("/", 1)[1] for q in latest_song["query"]} == {
        "chair-19-sd-bar.mp4",
        "dance.mp4",
    }
    # Copies of any video of the history are set apart.
    assert "chair-20-sd-bar.mp4" in _names(latest_song["duplicates"])


def test_copies_among_the_results_fold_into_the_longest(library: Path) -> None:
    answer = _similar(library, "quote.mp4", extra=("--limit", "3"))
    chairs = [r for r in answer["results"] if r["path"].rsplit("/", 1)[1].startswith("chair")]
    assert len(chairs) == 1, _names(answer["results"])
    (head,) = chairs
    assert len(head["copies"]) == 6
    assert all(c["copy_of"] == head["video_id"] for c in head["copies"])


def test_what_similar_derives_is_kept_between_calls_and_never_stale(
    library: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "library"
    shutil.copytree(library, copy, ignore=shutil.ignore_patterns("cache"))
    media = library.parent / "media"
    fresh = _similar(copy, "song.mp4", media=media)
    kept = copy / "cache"
    assert {p.name for p in kept.iterdir()} == {"profiles.npz", "copies.npz", "fingerprints.npz"}
    written = {p.name: p.stat().st_mtime_ns for p in kept.iterdir()}
    # A new process reads them back (nothing derived again) and answers the same.
    assert _similar(copy, "song.mp4", media=media) == fresh
    assert {p.name: p.stat().st_mtime_ns for p in kept.iterdir()} == written
    # A damaged file is derived again.
    (kept / "profiles.npz").write_bytes(b"not arrays")
    assert _similar(copy, "song.mp4", media=media) == fresh
    # After a change nothing stale is answered: a forgotten video is gone.
    _cli("forget", media / "holiday.mp4", "--library", copy)
    after = _similar(copy, "song.mp4", media=media)
    assert "holiday.mp4" not in _names(after["results"])
    assert _names(after["results"])[0] == "dance.mp4"
    # Where nothing can be kept, the answer is still given.
    shutil.rmtree(kept)
    kept.write_text("a file where the folder would be")
    assert _similar(copy, "song.mp4", media=media) == after


def test_a_persons_decision_on_copies_is_kept(library: Path, tmp_path: Path) -> None:
    copy = tmp_path / "library"
    shutil.copytree(library, copy)
    media = library.parent / "media"
    a, b = media / "chair-19-sd-bar.mp4", media / "chair-20-sd-bar.mp4"
    out = _cli("duplicates", "decide", a, b, "--not-copy", "--note", "two takes", "--library", copy)
    assert "are not copies" in out.stdout
    _cli(
        "duplicates", "decide", media / "song.mp4", media / "other.mp4", "--copy", "--library", copy
    )
    # Indexing again keeps it.
    settings = load_settings(copy, keep_versions_s=0, extractors=WANTED)
    with open_library(settings=settings) as lib:
        assert {r.status for r in lib.index([media])} == {"unchanged"}
    answer = _similar(copy, "chair-19-sd-bar.mp4", media=media)
    # Two takes are never one family: chair-20 (with the copies it has) is recommended.
    shown = _names(answer["results"]) + [
        Path(c["path"]).name for r in answer["results"] for c in r["copies"]
    ]
    assert "chair-20-sd-bar.mp4" in shown
    assert "chair-20-sd-bar.mp4" not in _names(answer["duplicates"])
    song_answer = _similar(copy, "song.mp4", media=media)
    assert [(Path(d["path"]).name, d["reason"]) for d in song_answer["duplicates"]] == [
        ("other.mp4", "marked as a copy")
    ]
    listed = [
        json.loads(x) for x in _cli("duplicates", "--library", copy, "--json").stdout.splitlines()
    ]
    assert [d["decision"] for d in listed] == ["not-copy", "copy"]
    assert listed[0]["note"] == "two takes"
    err = _cli("duplicates", "decide", a, a, "--copy", "--library", copy, code=2).stderr
    assert "two different videos" in err
    # Forgetting a video forgets what was decided about it.
    _cli("forget", media / "other.mp4", "--library", copy)
    listed = _cli("duplicates", "--library", copy, "--json").stdout.splitlines()
    assert [json.loads(x)["decision"] for x in listed] == ["not-copy"]


@pytest.fixture(scope="module")
def captioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("words")
    media = folder / "media"
    media.mkdir()
    texts = {
        "party.mp4": "Happy birthday Anna - cake at noon",
        "party2.mp4": "Birthday cake for Anna",
        "ferry.mp4": "Harbour ferry timetable",
        "train.mp4": "Railway station timetable",
    }
    for name, text in texts.items():
        write_captioned_video(media / name, [Caption(text, 0.0, 3.0)], 3.0)
    settings = load_settings(
        folder / "library",
        keep_versions_s=0,
        extractors=["file_hash", "media_info", "ocr"],
        ocr={"engine": "tesseract"},
    )
    with open_library(create=True, settings=settings) as lib:
        assert {r.status for r in lib.index([media])} == {"indexed"}
    return folder / "library"


def test_shared_words_recommend_and_are_named(captioned: Path) -> None:
    media = captioned.parent / "media"
    with open_library(captioned) as lib:
        answer = similar(lib, [str(media / "party.mp4")], limit=2)
    first = answer.results[0]
    assert Path(first.path).name == "party2.mp4"
    assert first.scores["words"] == pytest.approx(1.0, abs=0.5)
    (reason,) = [r for r in first.reasons if r.startswith("both mention: ")]
    assert set(reason.removeprefix("both mention: ").split(", ")) >= {"birthday", "cake"}
    with open_library(captioned) as lib:
        ferry = similar(lib, [str(media / "ferry.mp4")], limit=1)
    assert Path(ferry.results[0].path).name == "train.mp4"
    assert ferry.results[0].reasons == ("both mention: timetable",)


@pytest.fixture(scope="module")
def heard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four videos of speech on four subjects, two of a telephone ringing, and a song,
    noise and silence, with their sound labels alone (no words, no pictures)."""
    folder = tmp_path_factory.mktemp("heard")
    media = folder / "media"
    media.mkdir()
    said = [
        "The ferry leaves the harbour at seven in the morning.",
        "Add two cups of flour and stir the batter slowly.",
        "The striker scored twice in the second half of the match.",
        "Our grandmother planted roses along the garden wall.",
    ]
    for n, text in enumerate(said):
        sound = read_audio(speak(folder / f"said-{n}.wav", text))
        write_av(media / f"said-{n}.mp4", _pictures(len(sound) / RATE, n), 10, sound, RATE)
    for n in range(2):
        write_av(
            media / f"phone-{n}.mp4",
            _pictures(6, 20 + n),
            10,
            sound_effect("phone", 6, seed=n),
            RATE,
        )
    write_av(media / "song.mp4", _pictures(6, 30), 10, song(6, seed=31), RATE)
    write_av(media / "noise.mp4", _pictures(6, 32), 10, sound_effect("noise", 6), RATE)
    write_av(media / "quiet.mp4", _pictures(6, 33), 10, sound_effect("silence", 6), RATE)
    settings = load_settings(
        folder / "library", keep_versions_s=0, extractors=["file_hash", "media_info", "sounds"]
    )
    with open_library(create=True, settings=settings) as lib:
        assert {r.status for r in lib.index([media])} == {"indexed"}
    return folder / "library"


def test_a_sound_most_videos_have_makes_no_two_alike(heard: Path) -> None:
    """Speech, heard in most of the library, is no reason to recommend a video (every
    spoken video was listed for another with "both have: Speech"); a telephone ringing,
    heard in two videos, is."""
    media = heard.parent / "media"
    with open_library(heard) as lib:
        spoken = similar(lib, [str(media / "said-0.mp4")])
        ringing = similar(lib, [str(media / "phone-0.mp4")])
    assert spoken.results == ()
    first = ringing.results[0]
    assert Path(first.path).name == "phone-1.mp4"
    assert any(r.startswith("both have: ") and "Speech" not in r for r in first.reasons)
    assert all(not Path(r.path).name.startswith("said-") for r in ringing.results)
