"""Copies from picture and sound: every usual edit of a real clip is set apart as one
family, from whichever member one asks; the same pictures over other sound are no copy."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from videolearn.apps.catalog import forget
from videolearn.apps.copies import _Library, copies_of, find_copies
from videolearn.apps.recommend import similar
from videolearn.apps.themes import themes
from videolearn.config import load_settings
from videolearn.library import open_library
from videolearn.pipeline import Silent
from videolearn.samples import (
    EDITS,
    colour_bars,
    edited,
    read_audio,
    read_frames,
    song,
    tone,
    write_av,
)

RATE = 16_000
FPS = 10
WANTED = ["file_hash", "media_info", "fingerprint", "sketch"]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    folder = tmp_path_factory.mktemp("copies")
    media = folder / "media"
    media.mkdir()
    source = shared_data / "video" / "box.mp4"
    frames = read_frames(source, FPS, 320, 8.0)
    sound = read_audio(source)[: round(len(frames) / FPS * RATE)]
    write_av(media / "original.mp4", frames, FPS, sound, RATE)
    for edit in EDITS:
        crf = 40 if edit == "reencode" else 18
        write_av(media / f"{edit}.mp4", edited(frames, edit), FPS, sound, RATE, crf=crf)
    # The same pictures with a song instead: no copy.
    write_av(media / "other-sound.mp4", frames, FPS, song(len(frames) / FPS, seed=3), RATE)
    beep = tone(8, 1000, RATE)
    write_av(media / "card-tone.mp4", colour_bars(8, FPS), FPS, beep, RATE)
    write_av(media / "card-tone-again.mp4", colour_bars(8, FPS), FPS, beep, RATE, crf=30)
    write_av(media / "card-song.mp4", colour_bars(8, FPS), FPS, song(8, seed=4), RATE)
    tree = read_frames(shared_data / "video" / "tree.avi", FPS, 320, 8.0)
    write_av(media / "tree.mp4", tree, FPS, song(len(tree) / FPS, seed=5), RATE)
    settings = load_settings(folder / "library", keep_versions_s=0, extractors=WANTED)
    with open_library(create=True, settings=settings) as lib:
        assert {r.status for r in lib.index([media])} == {"indexed"}
    return folder / "library"


def _answer(
    library: Path, name: str, media: Path | None = None
) -> tuple[dict[str, str], list[str]]:
    """similar's copies (name: reason) and results (names) for one video."""
    with open_library(library) as lib:
        found = similar(lib, [str((media or library.parent / "media") / name)])
    copies = {Path(c.path).name: c.reason for c in found.duplicates}
    return copies, [Path(r.path).name for r in found.results]


FAMILY = {"original.mp4", *(f"{e}.mp4" for e in EDITS)}


class _AfterRun(Silent):
    """An index run's progress that keeps what it was told of the work after the files."""

    def __init__(self) -> None:
        self.said: list[tuple[str, int, int]] = []

    def after_run(self, what: str, done: int, total: int) -> None:
        self.said.append((what, done, total))


@pytest.mark.parametrize("name", ["original.mp4", "crop.mp4", "mirror.mp4", "logo.mp4"])
def test_every_usual_edit_is_one_family(library: Path, name: str) -> None:
    copies, results = _answer(library, name)
    assert set(copies) == FAMILY - {name}
    assert not FAMILY & set(results)
    direct = [r for r in copies.values() if not r.startswith("a copy of")]
    assert direct and all(
        r.startswith("same pictures") and r.endswith("same sound") for r in direct
    )


def test_the_same_pictures_over_other_sound_are_no_copy(library: Path) -> None:
    copies, _ = _answer(library, "other-sound.mp4")
    assert not copies
    copies, _ = _answer(library, "card-tone.mp4")
    assert set(copies) == {"card-tone-again.mp4"}  # the same card over the same tone
    assert copies["card-tone-again.mp4"].startswith("same pictures")
    copies, _ = _answer(library, "original.mp4")
    assert "other-sound.mp4" not in copies and "tree.mp4" not in copies


def test_families_are_found_once_for_the_library(library: Path) -> None:
    with open_library(library) as lib:
        copies = copies_of(lib)
        ids = {Path(v.path).name: v.video_id for v in lib.store.videos()}
        family = copies.family(ids["original.mp4"])
        assert {n for n, v in ids.items() if v in family} == FAMILY
        assert copies.family(ids["tree.mp4"]) == {ids["tree.mp4"]}
        # The one shown of the family is none that lost picture: not a harsh re-encode,
        # a shrunk, cropped or padded copy.
        lost = {"reencode.mp4", "resize.mp4", "crop.mp4", "pad.mp4", "letterbox.mp4"}
        assert copies.head(family) not in {ids[n] for n in lost}
        assert copies_of(lib) is copies  # nothing changed: not found again


def test_a_family_is_one_theme_named_by_the_copy_shown(library: Path) -> None:
    with open_library(library) as lib:
        copies = copies_of(lib)
        original = next(v.video_id for v in lib.store.videos() if v.path.endswith("original.mp4"))
        head = Path(copies.videos[copies.head(copies.family(original))].path).name
        found = themes(lib)
    (family,) = [t for t in found if {Path(m.path).name for m in t.members} == FAMILY]
    assert family.label.startswith(f"copies of {head}")


def _families(library: Path, *extra: str) -> str:
    command = [sys.executable, "-m", "videolearn", "duplicates", "families", "--library"]
    proc = subprocess.run(
        [*command, str(library), *extra], capture_output=True, text=True, timeout=120, check=True
    )
    return proc.stdout


def test_the_families_are_listed(library: Path) -> None:
    found = [json.loads(line) for line in _families(library, "--json").splitlines()]
    assert len(found) == 2  # the edits, and the card over one tone twice
    first = found[0]
    assert {Path(first["path"]).name, *(Path(c["path"]).name for c in first["copies"])} == FAMILY
    assert all(c["copy_of"] == first["video_id"] and c["reason"] for c in first["copies"])
    assert "(8 copies)" in _families(library).splitlines()[0]


def _kept_pair(library: Path, a: str, b: str) -> tuple[str, str]:
    with open_library(library) as lib:
        ids = {Path(v.path).name: v.video_id for v in lib.store.videos()}
    first, second = sorted((ids[a], ids[b]))
    return first, second


def test_a_pair_is_judged_once_and_the_library_keeps_the_verdict(
    library: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "library"
    shutil.copytree(library, copy)
    with open_library(copy) as lib:
        assert lib.store.verdicts.count() > 0  # judged as the index run grouped themes
    # What the library keeps is what is answered from: a kept verdict that says the same
    # pictures over other sound are a copy is believed ...
    a, b = _kept_pair(copy, "original.mp4", "other-sound.mp4")
    with sqlite3.connect(copy / "ledger.sqlite") as db:
        changed = db.execute(
            "UPDATE copy_verdicts SET reason = 'same pictures (told)', strength = 1.0 "
            "WHERE video_a = ? AND video_b = ?",
            (a, b),
        ).rowcount
    assert changed == 1
    copies, _ = _answer(copy, "other-sound.mp4", library.parent / "media")
    assert copies.get("original.mp4") == "same pictures (told)"
    # ... not under other settings of the rule, and not once a video is forgotten.
    settings = load_settings(copy)
    rule = settings.recommend.model_copy(update={"copy_min_share": 0.7})
    with open_library(settings=settings.model_copy(update={"recommend": rule})) as lib:
        found = similar(lib, [str(library.parent / "media" / "other-sound.mp4")])
        assert not found.duplicates
    with open_library(copy) as lib:
        before = lib.store.verdicts.count()
        forget(lib, str(library.parent / "media" / "other-sound.mp4"))
        assert 0 < lib.store.verdicts.count() < before


def test_a_video_indexed_later_is_searched_alone_and_nothing_found_before_is_lost(
    library: Path, tmp_path: Path, shared_data: Path
) -> None:
    """After a search of the whole library, finding every copy again looks for the
    candidates of the videos that came since; its answer is what a search of every video
    from scratch gives."""
    copy = tmp_path / "library"
    shutil.copytree(library, copy)
    with open_library(copy) as lib:
        before = copies_of(lib)
        rule = next(iter(_rules(copy)))
        assert lib.store.verdicts.searched(rule) == lib.store.video_ids()
    later = tmp_path / "later"
    later.mkdir()
    frames = read_frames(shared_data / "video" / "box.mp4", FPS, 320, 8.0)
    sound = read_audio(shared_data / "video" / "box.mp4")[: round(len(frames) / FPS * RATE)]
    write_av(later / "late-copy.mp4", edited(frames, "resize"), FPS, sound, RATE, crf=30)
    # Other pictures over the song of card-song.mp4: no copy, the same sound.
    street = read_frames(shared_data / "video" / "vtest.avi", FPS, 320, 8.0)
    write_av(later / "late-song.mp4", street, FPS, song(8, seed=4), RATE)
    progress = _AfterRun()
    with open_library(copy) as lib:
        assert {r.status for r in lib.index([later], progress)} == {"indexed"}
        ids = {Path(v.path).name: v.video_id for v in lib.store.videos()}
        # The run said how far its search for copies had got: the two new videos.
        assert progress.said[0] == ("finding copies", 0, 2)
        assert progress.said[-1] == ("finding copies", 2, 2)
        grown = copies_of(lib)
        assert grown.family(ids["late-copy.mp4"]) == before.family(ids["original.mp4"]) | {
            ids["late-copy.mp4"]
        }
        assert set(grown.families()) - set(before.families()) == {
            grown.family(ids["late-copy.mp4"])
        }
        assert set(before.shared_sound) < set(grown.shared_sound)
        assert _pair(ids["card-song.mp4"], ids["late-song.mp4"]) in grown.shared_sound
    with sqlite3.connect(copy / "ledger.sqlite") as db:
        db.execute("DELETE FROM copy_searched")
    with open_library(copy) as lib:
        afresh = find_copies(lib.store, lib.settings)
    assert set(afresh.families()) == set(grown.families())
    assert afresh.shared_sound.keys() == grown.shared_sound.keys()
    assert afresh.quotes == grown.quotes
    # Judged afresh holding the drawn frames of two videos at a time, comparing the key
    # sketches of a video or two with the library's at a time, keeping what was found
    # after every video: the same answer.
    with sqlite3.connect(copy / "ledger.sqlite") as db:
        db.execute("DELETE FROM copy_searched")
        db.execute("DELETE FROM copy_verdicts")
    settings = load_settings(copy)
    held = settings.recommend.model_copy(
        update={"pictures_held": 2, "keys_compared_mb": 0.01, "searched_per_step": 1}
    )
    with open_library(settings=settings.model_copy(update={"recommend": held})) as lib:
        few = find_copies(lib.store, lib.settings)
    assert set(few.families()) == set(grown.families())
    assert few.quotes == grown.quotes
    assert few.shared_sound == grown.shared_sound
    with sqlite3.connect(copy / "ledger.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM copy_searched").fetchone()[0] == len(ids)


def test_a_search_cut_short_goes_on_from_what_it_kept(library: Path, tmp_path: Path) -> None:
    """A search for copies keeps its verdicts, and the videos it searched, as it goes:
    killed in the middle, the videos it finished stay searched and the next search does
    the rest, with the answer a whole search gives."""
    copy = tmp_path / "library"
    shutil.copytree(library, copy)
    with open_library(copy) as lib:
        whole = find_copies(lib.store, lib.settings)
        count = len(lib.store.video_ids())
    with sqlite3.connect(copy / "ledger.sqlite") as db:
        db.execute("DELETE FROM copy_searched")
        db.execute("DELETE FROM copy_verdicts")
    search = (
        "import sys; from videolearn.library import open_library; "
        "from videolearn.apps.copies import find_copies; "
        "lib = open_library(sys.argv[1]); find_copies(lib.store, lib.settings)"
    )
    # A video a step, holding the pictures of two videos: a search of many steps.
    env = {
        **os.environ,
        "VIDEOLEARN_RECOMMEND__SEARCHED_PER_STEP": "1",
        "VIDEOLEARN_RECOMMEND__PICTURES_HELD": "2",
    }
    proc = subprocess.Popen([sys.executable, "-c", search, str(copy)], env=env)
    try:
        deadline = time.monotonic() + 200
        while proc.poll() is None and time.monotonic() < deadline and not _searched(copy):
            time.sleep(0.005)
    finally:
        proc.kill()
        proc.wait()
    assert 0 < _searched(copy) < count
    with open_library(copy) as lib:
        again = find_copies(lib.store, lib.settings)
    assert _searched(copy) == count
    assert set(again.families()) == set(whole.families())
    assert again.quotes == whole.quotes
    assert again.shared_sound == whole.shared_sound


def test_a_large_librarys_search_looks_keys_up_in_an_index_and_finds_the_same(
    library: Path, tmp_path: Path
) -> None:
    """From `recommend.keys_indexed_from` key sketches the search for copies looks each
    video's close keys up in an inverted-file index: here forced on this small library,
    it finds every family, quote and shared sound that comparing every key finds."""
    copy = tmp_path / "library"
    shutil.copytree(library, copy)
    with open_library(copy) as lib:
        whole = find_copies(lib.store, lib.settings)
    with sqlite3.connect(copy / "ledger.sqlite") as db:
        db.execute("DELETE FROM copy_searched")
        db.execute("DELETE FROM copy_verdicts")
    settings = load_settings(copy, recommend={"keys_indexed_from": 1})
    with open_library(copy, settings=settings) as lib:
        index = _Library(lib.store, lib.settings).key_index()
        assert index is not None and 1 <= index.probes <= index.lists
        looked_up = find_copies(lib.store, lib.settings)
    assert set(looked_up.families()) == set(whole.families())
    assert {n for f in whole.families() for n in _names(copy, f)} >= FAMILY
    assert looked_up.quotes == whole.quotes
    assert looked_up.shared_sound == whole.shared_sound


def _names(library: Path, family: frozenset[str]) -> set[str]:
    with open_library(library) as lib:
        return {Path(v.path).name for v in lib.store.videos() if v.video_id in family}


def _searched(library: Path) -> int:
    with sqlite3.connect(library / "ledger.sqlite", timeout=30) as db:
        return int(db.execute("SELECT COUNT(*) FROM copy_searched").fetchone()[0])


def _rules(library: Path) -> set[str]:
    with sqlite3.connect(library / "ledger.sqlite") as db:
        return {rule for (rule,) in db.execute("SELECT DISTINCT rule FROM copy_searched")}


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def test_similar_reads_a_searched_videos_copies_as_it_would_find_them(
    library: Path, tmp_path: Path
) -> None:
    """Once the library was searched for copies, `similar` reads a video's candidates
    from the verdicts kept instead of comparing it with every video again: the same
    answers as where nothing was searched."""
    copy = tmp_path / "library"
    shutil.copytree(library, copy)
    assert _rules(copy)  # the index run's themes step searched every video
    names = ["original.mp4", "logo.mp4", "other-sound.mp4", "card-tone.mp4", "tree.mp4"]
    read = [_answer(copy, n, library.parent / "media") for n in names]
    with sqlite3.connect(copy / "ledger.sqlite") as db:
        db.execute("DELETE FROM copy_searched")
    assert [_answer(copy, n, library.parent / "media") for n in names] == read
