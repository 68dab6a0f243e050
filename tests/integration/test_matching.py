"""Hash banks and matching, end to end through the command line, on real videos."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from videolearn.apps.matching import HashIndex, to_codes
from videolearn.samples import cut_video, pad_video, write_video

CLI = [sys.executable, "-m", "videolearn"]
VIDEOS = "threatexchange/videos"


def run(*args: str | Path, code: int | None = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=280, check=False
    )
    if code is not None:
        assert proc.returncode == code, proc.stdout + proc.stderr
    return proc


def matches(file: Path, library: Path, *extra: str) -> list[dict]:
    proc = run("match", file, "--library", library, "--json", *extra)
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.fixture(scope="module")
def library(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    lib = tmp_path_factory.mktemp("banks") / "library"
    run("bank", "create", "KNOWN", "--library", lib)
    run("bank", "add", "KNOWN", shared_data / VIDEOS / "chair-orig-22-sd-bar.mp4", "--library", lib)
    run("bank", "create", "STREET", "--library", lib)
    run("bank", "add", "STREET", shared_data / "video" / "vtest.avi", "--library", lib)
    return lib


@pytest.mark.parametrize(
    "name",
    [
        "chair-19-sd-bar",
        "chair-20-sd-bar",
        "chair-22-sd-grey-bar",
        "chair-22-sd-sepia-bar",
        "chair-22-with-small-logo-bar",
        "chair-orig-22-sd-bar",
    ],
)
def test_chair_family_matches_its_original(shared_data: Path, library: Path, name: str) -> None:
    found = [
        m
        for m in matches(shared_data / VIDEOS / f"{name}.mp4", library)
        if m["signal_type"] == "vpdq"
    ]
    assert [m["matched_content"] for m in found] == ["chair-orig-22-sd-bar.mp4"]
    assert found[0]["bank"] == "KNOWN"
    assert found[0]["query_match_percent"] >= 80


def test_a_large_logo_is_matched_by_the_quadrants(shared_data: Path, library: Path) -> None:
    found = matches(shared_data / VIDEOS / "chair-22-with-large-logo-bar.mp4", library)
    by_signal = {m["signal_type"]: m for m in found}
    # The logo moves the whole-frame hashes ~54 bits (median): vPDQ misses it...
    assert "vpdq" not in by_signal and "vpdq_cropped" not in by_signal
    # ...while the two quadrants below the logo still match, frame after frame.
    [tiles] = found
    assert tiles["signal_type"] == "vpdq_tiles" and tiles["bank"] == "KNOWN"
    assert tiles["matched_content"] == "chair-orig-22-sd-bar.mp4"
    assert tiles["query_match_percent"] >= 80
    # Same frames in both files: the matched stretches line up.
    assert abs(tiles["query_start_s"] - tiles["match_start_s"]) <= 1.0
    assert abs(tiles["query_end_s"] - tiles["match_end_s"]) <= 1.0


def test_a_padded_copy_with_a_logo_still_matches(
    shared_data: Path, library: Path, tmp_path: Path
) -> None:
    logo = shared_data / VIDEOS / "chair-22-with-large-logo-bar.mp4"
    copy = pad_video(logo, tmp_path / "copy.mp4", (0, 0, 160, 160), grey=True)
    found = matches(copy, library, "--bank", "KNOWN")
    assert [(m["signal_type"], m["matched_content"]) for m in found] == [
        ("vpdq_tiles", "chair-orig-22-sd-bar.mp4")
    ]


def test_exact_copy_matches_by_md5_too(shared_data: Path, library: Path) -> None:
    found = matches(shared_data / VIDEOS / "chair-orig-22-sd-bar.mp4", library, "--bank", "KNOWN")
    assert {m["signal_type"] for m in found} == {"md5", "vpdq", "vpdq_cropped", "vpdq_tiles"}
    vpdq = next(m for m in found if m["signal_type"] == "vpdq")
    assert vpdq["query_match_percent"] == 100 and vpdq["target_match_percent"] == 100


@pytest.mark.parametrize(
    "name", ["video/box.mp4", "video/tree.avi", f"{VIDEOS}/test-padded-dimensions.mp4"]
)
def test_unrelated_videos_do_not_match(shared_data: Path, library: Path, name: str) -> None:
    assert matches(shared_data / name, library) == []


def test_a_clip_cut_from_a_banked_video_is_found_and_located(
    shared_data: Path, library: Path, tmp_path: Path
) -> None:
    clip = cut_video(shared_data / "video" / "vtest.avi", tmp_path / "clip.mp4", 30.0, 40.0)
    found = next(m for m in matches(clip, library) if m["signal_type"] == "vpdq")
    assert found["bank"] == "STREET" and found["matched_content"] == "vtest.avi"
    assert found["query_match_percent"] >= 80
    assert found["target_match_percent"] < 25  # 10 s of a 79.5 s video
    assert found["query_start_s"] < 1.0 and found["query_end_s"] > 9.0
    assert abs(found["match_start_s"] - 30.0) < 1.0 and abs(found["match_end_s"] - 40.0) < 1.0


def test_export_import_round_trip_and_bad_files(library: Path, tmp_path: Path) -> None:
    exported = run("bank", "export", "KNOWN", "--library", library).stdout.splitlines()
    assert [line.split(" ", 1)[0] for line in exported] == ["video_md5", "vpdq"]
    copy = tmp_path / "known.txt"
    copy.write_text("\n".join(exported) + "\npdq " + "ab" * 32 + "\n")
    run("bank", "create", "COPY", "--library", library)
    assert "imported 3" in run("bank", "import", "COPY", copy, "--library", library).stdout
    assert "imported 0" in run("bank", "import", "COPY", copy, "--library", library).stdout
    listed = [
        json.loads(x)
        for x in run("bank", "list", "--library", library, "--json").stdout.splitlines()
    ]
    counts = {"md5": 1, "pdq": 1, "vpdq": 1, "vpdq_cropped": 0, "vpdq_tiles": 0}
    assert {"name": "COPY", "entries": counts, "allow": False, "switched_off": 0} in listed

    bad = tmp_path / "bad.txt"
    bad.write_text("pdq " + "ab" * 32 + "\nsha1 1234\n")
    proc = run("bank", "import", "COPY", bad, "--library", library, code=1)
    assert f"{bad} line 2" in proc.stderr and "signal_type" in proc.stderr
    short = tmp_path / "short.txt"
    short.write_text("pdq abcdef\n")
    proc = run("bank", "import", "COPY", short, "--library", library, code=1)
    assert "line 1" in proc.stderr and "64 hex digits" in proc.stderr
    assert "bank name" in run("bank", "create", "lower-case", "--library", library, code=2).stderr
    assert "no bank named" in run("bank", "export", "NOPE", "--library", library, code=2).stderr


def test_vpdq_text_file_import_and_empty_bank(shared_data: Path, library: Path) -> None:
    run("bank", "create", "EMPTY", "--library", library)
    video = shared_data / VIDEOS / "chair-20-sd-bar.mp4"
    assert matches(video, library, "--bank", "EMPTY") == []
    run("bank", "create", "REF", "--library", library)
    reference = shared_data / "threatexchange/vpdq-hashes/chair-20-sd-bar.txt"
    assert "imported 1" in run("bank", "import", "REF", reference, "--library", library).stdout
    [found] = matches(video, library, "--bank", "REF")
    assert found["matched_content"] == "chair-20-sd-bar" and found["query_match_percent"] > 95


def test_too_dark_to_hash_says_why(library: Path, tmp_path: Path) -> None:
    dark = write_video(tmp_path / "dark.mp4", [((0, 0, 0), 2.0)], tone_hz=None)
    proc = run("match", dark, "--library", library)
    assert proc.stdout == "" and "below the vPDQ quality bar" in proc.stderr


def test_index_search_is_exact_within_the_threshold() -> None:
    rng = np.random.default_rng(3)
    banked = rng.integers(0, 256, (20_000, 32), dtype=np.uint8)
    # Queries: copies of banked hashes with 0-40 bits flipped, and random ones.
    queries = []
    for i in range(200):
        code = banked[i * 37].copy()
        bits = np.unpackbits(code)
        flips = rng.choice(256, size=int(rng.integers(0, 41)), replace=False)
        bits[flips] ^= 1
        queries.append(np.packbits(bits))
    queries += list(rng.integers(0, 256, (50, 32), dtype=np.uint8))
    hexes = [bytes(q).hex() for q in queries]
    index = HashIndex(
        to_codes([bytes(b).hex() for b in banked]),
        np.arange(len(banked)),
        np.zeros(len(banked)),
    )
    got = index.search(hexes, 31)
    all_bits = np.unpackbits(banked, axis=1)
    for q, hits in zip(queries, got, strict=True):
        distances = (all_bits != np.unpackbits(q)).sum(axis=1)
        expected = {(int(r), int(distances[r])) for r in np.flatnonzero(distances <= 31)}
        assert set(hits) == expected


def test_index_records_bank_matches_and_forget_drops_them(
    shared_data: Path, tmp_path: Path
) -> None:
    library = tmp_path / "library"
    run("bank", "create", "KNOWN", "--library", library)
    reference = shared_data / "threatexchange/vpdq-hashes/chair-orig-22-sd-bar.txt"
    run("bank", "import", "KNOWN", reference, "--library", library)
    media = tmp_path / "uploads"
    media.mkdir()
    upload = media / "upload.mp4"
    upload.write_bytes((shared_data / VIDEOS / "chair-20-sd-bar.mp4").read_bytes())
    (media / "street.avi").write_bytes((shared_data / "video" / "tree.avi").read_bytes())
    run("index", media, "--library", library)
    shown = json.loads(run("show", upload, "--library", library, "--json").stdout)
    [recorded] = shown["matches"]
    assert recorded["bank"] == "KNOWN" and recorded["signal_type"] == "vpdq"
    assert recorded["matched_content"] == "chair-orig-22-sd-bar"
    other = json.loads(run("show", media / "street.avi", "--library", library, "--json").stdout)
    assert other["matches"] == []
    run("forget", upload, "--library", library)
    from videolearn.library import open_library

    with open_library(library) as lib:
        assert lib.store.banks.matches_of(shown["video_id"]) == []


def test_stored_videos_are_matched_again_when_banks_change(
    shared_data: Path, tmp_path: Path
) -> None:
    library = tmp_path / "library"
    media = tmp_path / "uploads"
    media.mkdir()
    upload = media / "upload.mp4"
    upload.write_bytes((shared_data / VIDEOS / "chair-20-sd-bar.mp4").read_bytes())
    (media / "street.avi").write_bytes((shared_data / "video" / "tree.avi").read_bytes())
    run("index", media, "--library", library)  # no banks yet
    assert json.loads(run("show", upload, "--library", library, "--json").stdout)["matches"] == []
    run("bank", "create", "KNOWN", "--library", library)
    reference = shared_data / "threatexchange/vpdq-hashes/chair-orig-22-sd-bar.txt"
    added = run("bank", "import", "KNOWN", reference, "--library", library).stdout
    # From the stored hashes: nothing is decoded again.
    assert "matched 2 stored video(s) again: 1 match(es)" in added
    [found] = json.loads(run("show", upload, "--library", library, "--json").stdout)["matches"]
    assert (found["signal_type"], found["matched_content"]) == ("vpdq", "chair-orig-22-sd-bar")
    # Up to date now: neither a second index nor an unchanged bank matches again.
    assert "matched" not in run("bank", "import", "KNOWN", reference, "--library", library).stdout
    run("index", media, "--library", library)
    [again] = json.loads(run("show", upload, "--library", library, "--json").stdout)["matches"]
    assert again == found


@pytest.mark.parametrize(
    ("pad_px", "grey"),
    [((120, 120, 0, 0), True), ((0, 0, 200, 200), False), ((40, 0, 90, 0), True)],
)
def test_padded_copies_match_by_the_border_robust_hash(
    shared_data: Path, library: Path, tmp_path: Path, pad_px: tuple[int, int, int, int], grey: bool
) -> None:
    copy = pad_video(
        shared_data / VIDEOS / "chair-orig-22-sd-bar.mp4", tmp_path / "copy.mp4", pad_px, grey
    )
    found = {m["signal_type"]: m for m in matches(copy, library, "--bank", "KNOWN")}
    # Plain vPDQ, computed as the exchange computes it, misses the padded copy...
    assert "vpdq" not in found
    # ...the hash of the picture without its borders finds it.
    assert found["vpdq_cropped"]["matched_content"] == "chair-orig-22-sd-bar.mp4"
    assert found["vpdq_cropped"]["query_match_percent"] >= 80
