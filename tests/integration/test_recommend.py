"""Same sound, through the library and the command line: a song found inside other
videos over different pictures, located in both, and gone when a video is forgotten."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from videolearn.apps.sound import sound_alike
from videolearn.config import load_settings
from videolearn.library import open_library
from videolearn.samples import song, write_av

CLI = [sys.executable, "-m", "videolearn"]
RATE = 16_000
WANTED = ["file_hash", "media_info", "fingerprint"]
# Where the song's stretches lie in each video: (song from, to, video from).
PLACED = {"dance.mp4": (5.0, 15.0, 25.0), "holiday.mp4": (20.0, 32.0, 3.0)}


def _pictures(seconds: float, seed: int) -> np.ndarray:
    colour = np.random.default_rng(seed).integers(0, 255, 3)
    return np.broadcast_to(colour, (round(seconds * 10), 48, 64, 3)).astype(np.uint8)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
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
    assert out.startswith(str(media / "holiday.mp4")) and "12." in out.splitlines()[0]
    err = _cli("sound-alike", tmp_path / "nope.mp4", "--library", library, code=2).stderr
    assert "nope.mp4" in err


def test_a_forgotten_video_is_no_longer_found(library: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "library"
    shutil.copytree(library, copy)
    media = library.parent / "media"
    _cli("forget", media / "holiday.mp4", "--library", copy)
    proc = _cli("sound-alike", media / "song.mp4", "--library", copy, "--json")
    assert [Path(json.loads(line)["path"]).name for line in proc.stdout.splitlines()] == [
        "dance.mp4"
    ]
