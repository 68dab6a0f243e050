"""The command line end to end, as a user runs it: real files, real subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from videolearn.apps import catalog
from videolearn.config import load_settings
from videolearn.library import open_library
from videolearn.pipeline import IndexResult
from videolearn.samples import BLUE, GREEN, RED, YELLOW, write_av, write_tone, write_video
from videolearn.store.ledger import FileStatus
from videolearn.store.tables import ROW_TYPES, MomentRow, ThumbnailRow, VideoRow

CLI = [sys.executable, "-m", "videolearn"]


def run(*args: str | Path, check: bool = True, **kw: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=240, check=False, **kw
    )
    if check and proc.returncode not in (0, 1):
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def lines(proc: subprocess.CompletedProcess[str]) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of good and bad files."""
    folder = tmp_path_factory.mktemp("media")
    write_video(folder / "three.mp4", [(RED, 1.0), (GREEN, 1.0), (BLUE, 1.0)])
    write_video(folder / "silent.mkv", [(YELLOW, 2.0)], tone_hz=None)
    write_video(folder / "rotated.mp4", [(GREEN, 1.0)], rotation_deg=90, tone_hz=None)
    write_tone(folder / "tone.flac", 2.0)
    write_video(
        folder / "vfr.mkv", [(RED, 3.0)], frame_times_s=[0, 0.04, 1.0, 2.0, 2.96], tone_hz=None
    )
    write_video(folder / "-dash.mp4", [(BLUE, 1.0)])
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "text.mp4").write_text("not a video\n" * 100)
    full = write_video(folder / "whole.mkv", [(RED, 3.0), (BLUE, 3.0)], tone_hz=None)
    (folder / "truncated.mkv").write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    full.unlink()
    header = bytearray(write_video(folder / "header.mp4", [(RED, 1.0)]).read_bytes())
    header[:200] = b"\x00" * 200
    (folder / "header.mp4").write_bytes(bytes(header))
    return folder


GOOD = {"three.mp4", "silent.mkv", "rotated.mp4", "tone.flac", "vfr.mkv", "-dash.mp4"}
BAD = {
    "empty.mp4": "empty file",
    "text.mp4": "not a media file",
    "truncated.mkv": "truncated",
    "header.mp4": "",
}


@pytest.fixture(scope="module")
def indexed(media: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict], int]:
    library = tmp_path_factory.mktemp("lib") / "library"
    proc = run("index", media, "--library", library, "--json")
    return library, lines(proc), proc.returncode


def test_index_reports_every_file_and_exits_1_on_failures(indexed) -> None:
    _, results, code = indexed
    assert code == 1
    by_name = {Path(r["path"]).name: r for r in results}
    assert set(by_name) == GOOD | set(BAD)
    for name in GOOD:
        assert by_name[name]["status"] == "indexed", by_name[name]
        assert len(by_name[name]["video_id"]) == 64
    for name, words in BAD.items():
        result = by_name[name]
        assert result["status"] == "failed"
        assert words in result["reason"]
        assert "Traceback" not in result["reason"] and "\n" not in result["reason"]


def test_status_counts_and_failures(indexed) -> None:
    library, _, _ = indexed
    status = lines(run("status", "--library", library, "--json"))[0]
    assert status["videos"] == {"indexed": len(GOOD), "failed": len(BAD), "pending": 0}
    assert {Path(f["path"]).name for f in status["failures"]} == set(BAD)
    assert all(f["reason"] for f in status["failures"])


def test_show_gives_info_and_shots(indexed, media: Path) -> None:
    library, _, _ = indexed
    shown = lines(run("show", media / "three.mp4", "--library", library, "--json"))[0]
    assert abs(shown["duration_s"] - 3.0) < 0.1
    shots = [m for m in shown["moments"] if m["modality"] == "shot"]
    assert [round(m["start_s"], 2) for m in shots] == [0.0, 1.0, 2.0]
    assert all("label" in m and "score" in m for m in shots)
    # Learned picture and sound vectors per shot.
    vectors = [e for e in shown["embeddings"] if e["kind"].startswith("av_")]
    assert sorted((e["kind"], round(e["start_s"], 2)) for e in vectors) == [
        (kind, start) for kind in ("av_audio", "av_video") for start in (0.0, 1.0, 2.0)
    ]
    assert all(e["dim"] > 0 and e["model"].startswith("default_av.pt:") for e in vectors)
    # A text vector per sound moment (the tone's class names).
    sounds = [m for m in shown["moments"] if m["modality"] == "sound"]
    text = [e for e in shown["embeddings"] if e["kind"] == "e5_sound"]
    assert sounds and len(text) == len(sounds) and all(e["dim"] == 384 for e in text)
    plain = run("show", media / "three.mp4", "--library", library).stdout
    assert "vectors: 3 x av_video" in plain and "vectors: 3 x av_audio" in plain
    rotated = lines(run("show", media / "rotated.mp4", "--library", library, "--json"))[0]
    assert (rotated["width_px"], rotated["height_px"]) == (120, 160)
    audio = lines(run("show", media / "tone.flac", "--library", library, "--json"))[0]
    assert audio["width_px"] is None and abs(audio["duration_s"] - 2.0) < 0.05
    by_id = lines(run("show", shown["video_id"][:10], "--library", library, "--json"))[0]
    assert by_id["video_id"] == shown["video_id"]


def test_index_twice_reports_unchanged(media: Path, tmp_path: Path) -> None:
    library = tmp_path / "lib"
    files = [media / n for n in sorted(GOOD)]
    run("index", *files, "--library", library, "--json")
    before = _snapshot(library)
    again = lines(run("index", *files, "--library", library, "--json"))
    assert {r["status"] for r in again} == {"unchanged"}
    assert _snapshot(library) == before


def test_moved_file_is_the_same_video_with_a_new_path(media: Path, tmp_path: Path) -> None:
    library = tmp_path / "lib"
    original = shutil.copy(media / "three.mp4", tmp_path / "a.mp4")
    first = lines(run("index", original, "--library", library, "--json"))[0]
    moved = tmp_path / "sub" / "renamed.mp4"
    moved.parent.mkdir()
    Path(original).rename(moved)
    second = lines(run("index", moved, "--library", library, "--json"))[0]
    assert second["status"] == "unchanged"
    assert second["video_id"] == first["video_id"]
    shown = lines(run("show", first["video_id"], "--library", library, "--json"))[0]
    assert shown["path"] == str(moved)


def test_a_copy_adds_a_path_and_never_moves_the_original(media: Path, tmp_path: Path) -> None:
    library = tmp_path / "lib"
    original = shutil.copy(media / "three.mp4", tmp_path / "harbour.mp4")
    first = lines(run("index", original, "--library", library, "--json"))[0]
    copy = shutil.copy(original, tmp_path / "ferry-trip-2024.mp4")  # an upload, say
    second = lines(run("index", copy, "--library", library, "--json"))[0]
    assert second["video_id"] == first["video_id"]
    shown = lines(run("show", first["video_id"], "--library", library, "--json"))[0]
    assert shown["path"] == str(original)  # still shown where it was
    assert shown["paths"] == sorted([str(original), str(copy)])  # every path kept


def test_forget_removes_every_derived_row(media: Path, tmp_path: Path) -> None:
    library = tmp_path / "lib"
    run("index", media / "three.mp4", media / "silent.mkv", "--library", library)
    with open_library(library) as lib:
        video_id = lib.resolve(str(media / "three.mp4")).video_id
        for row_type in ROW_TYPES:
            assert lib.store.rows_of(row_type, video_id), row_type
    forgotten = lines(run("forget", media / "three.mp4", "--library", library, "--json"))[0]
    with open_library(library) as lib:
        assert forgotten["video_id"] == video_id
        for row_type in ROW_TYPES:
            assert lib.store.rows_of(row_type, video_id) == []
        assert lib.store.get_video(video_id) is None
        assert lib.store.ledger.paths_of(video_id) == []
        assert len(lib.store.video_ids()) == 1
    assert run("doctor", "--library", library).returncode == 0
    missing = run("show", media / "three.mp4", "--library", library, check=False)
    assert missing.returncode == 2 and "no indexed video" in missing.stderr


def test_doctor_finds_orphans_and_fix_repairs(media: Path, tmp_path: Path) -> None:
    library = tmp_path / "lib"
    run("index", media / "three.mp4", "--library", library)
    with open_library(library) as lib:
        # Derived rows without their video row: what a crash between two tables leaves.
        video_id = next(iter(lib.store.video_ids()))
        lib.store._tables["videos"].delete(f"video_id = '{video_id}'")
    report = lines(run("doctor", "--library", library, "--json"))[0]
    assert report["ok"] is False
    assert "videolearn doctor --fix" in report["fixes"]
    fixed = run("doctor", "--library", library, "--fix", "--json")
    # The orphans are gone; the file is marked for indexing again, and doctor says so.
    assert fixed.returncode == 1
    assert any("not finished indexing" in p for p in lines(fixed)[0]["problems"])
    assert (
        lines(run("index", media / "three.mp4", "--library", library, "--json"))[0]["status"]
        == "indexed"
    )
    assert run("doctor", "--library", library).returncode == 0


def test_doctor_tells_a_run_going_on_from_one_that_stopped(media: Path, tmp_path: Path) -> None:
    library = tmp_path / "lib"
    run("index", media / "three.mp4", "--library", library)
    clip = Path(shutil.copy(media / "three.mp4", tmp_path / "four.mp4"))
    with open_library(library) as lib, lib.store.writing():
        # What a run leaves that stored a video and stopped before folding its rows into
        # the indexes, and a file it had not finished.
        lib.store.write_video(VideoRow("f" * 64, str(clip)), [])
        lib.store.ledger.set(str(clip), FileStatus.INDEXED, video_id="f" * 64)
        lib.store.ledger.set(str(media / "silent.mkv"), FileStatus.PENDING)
    report = lines(run("doctor", "--library", library, "--json", check=False))[0]
    assert any("not in their tables' indexes" in p for p in report["problems"]), report
    assert any("a run stopped" in p for p in report["problems"]), report
    assert "videolearn doctor --fix" in report["fixes"]
    # The same while a run holds the write lock: its files and rows are on their way.
    hold = (
        "import fcntl, sys, time; f = open(sys.argv[1], 'a'); "
        "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(120)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(library / "write.lock")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        report = lines(run("doctor", "--library", library, "--json"))[0]
        assert report["ok"] is True, report
        assert any("being indexed by a run going on now" in n for n in report["notices"])
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    run("doctor", "--library", library, "--fix", check=False)
    with open_library(library) as lib:
        assert lib.store.unindexed_rows() == {}


def test_doctor_notes_a_moved_file_without_deleting_it(media: Path, tmp_path: Path) -> None:
    clip = Path(shutil.copy(media / "three.mp4", tmp_path / "clip.mp4"))
    library = tmp_path / "lib"
    run("index", clip, "--library", library)
    clip.unlink()
    for _ in range(2):
        report = lines(run("doctor", "--library", library, "--fix", "--json"))[0]
        assert report["ok"] is True
        assert "no longer at their path" in report["notices"][0]
    assert lines(run("status", "--library", library, "--json"))[0]["videos"]["indexed"] == 1


def test_doctor_says_when_on_screen_text_is_read_without_tesseract(
    media: Path, tmp_path: Path
) -> None:
    library = tmp_path / "lib"
    run("index", media / "three.mp4", "--library", library)
    report = lines(run("doctor", "--library", library, "--json"))[0]
    assert not any("rapidocr alone" in n for n in report["notices"])
    assert not any("lacks" in n for n in report["notices"])
    # A pack `ocr.languages` names is not installed: `auto` reads with the others, and
    # says what to install.
    env = {**os.environ, "VIDEOLEARN_OCR__LANGUAGES": "Latin+xx_none"}
    report = lines(run("doctor", "--library", library, "--json", env=env))[0]
    (notice,) = [n for n in report["notices"] if "lacks" in n]
    assert "xx_none" in notice and "tesseract-ocr-xx-none" in notice
    assert not any("rapidocr alone" in n for n in report["notices"])
    # None is: `auto` reads with rapidocr alone.
    env = {**os.environ, "VIDEOLEARN_OCR__LANGUAGES": "xx_none+Cyrillic_none"}
    report = lines(run("doctor", "--library", library, "--json", env=env))[0]
    (notice,) = [n for n in report["notices"] if "rapidocr alone" in n]
    assert "xx_none+Cyrillic_none" in notice and "tesseract-ocr-xx-none" in notice


def test_kill_during_index_then_resume_gives_the_same_library(media: Path, tmp_path: Path) -> None:
    files = [media / n for n in sorted(GOOD)]
    reference = tmp_path / "reference"
    started = time.monotonic()
    run("index", *files, "--library", reference)
    whole_s = time.monotonic() - started
    # Kill points spread over a whole run: start-up, decoding, writing, clean-up.
    for fraction in (0.3, 0.5, 0.7, 0.9):
        delay_s = whole_s * fraction
        library = tmp_path / f"killed-{fraction}"
        proc = subprocess.Popen([*CLI, "index", *map(str, files), "--library", str(library)])
        time.sleep(delay_s)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        resumed = run("index", *files, "--library", library, "--json")
        assert resumed.returncode == 0, resumed.stderr
        # The killed run's decoded frames on /dev/shm are cleaned up by the next run.
        assert not list(Path("/dev/shm").glob(f"videolearn-decode-{proc.pid}-*"))
        assert _snapshot(library) == _snapshot(reference)
        assert run("doctor", "--library", library).returncode == 0


def test_second_writer_is_refused_and_loses_nothing(media: Path, tmp_path: Path) -> None:
    library = tmp_path / "lib"
    run("index", media / "silent.mkv", "--library", library)
    with open_library(library) as lib, lib.store.writing():
        proc = run("index", media / "three.mp4", "--library", library)
    assert proc.returncode == 1 and "another process is writing" in proc.stderr
    assert lines(run("status", "--library", library, "--json"))[0]["videos"]["indexed"] == 1


def test_file_vanishing_during_the_run_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    folder = tmp_path / "media"
    folder.mkdir()
    first = write_video(folder / "a.mp4", [(RED, 1.0)])
    second = write_video(folder / "b.mp4", [(BLUE, 1.0)])

    class DeleteNext:
        def file_started(self, path: Path, number: int, total: int) -> None:
            if path == first:
                second.unlink()

        def media_progress(self, reached_s: float, duration_s: float) -> None:
            pass

        def file_done(self, result: IndexResult) -> None:
            pass

    # One file at a time, so that b.mp4 is not yet opened when a.mp4 starts.
    settings = load_settings(tmp_path / "lib", decode={"parallel_files": 1})
    with open_library(create=True, settings=settings) as lib:
        results = lib.index([folder], DeleteNext())
    assert [r.status for r in results] == ["indexed", "failed"]
    assert "vanished" in (results[1].reason or "")


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    secret = write_video(tmp_path / "secret.mp4", [(RED, 1.0)])
    secret.chmod(0o000)
    command = [*CLI, "index", str(secret), "--library", str(tmp_path / "lib"), "--json"]
    if os.geteuid() == 0:
        # Root reads any file: drop the capabilities that let it.
        if shutil.which("setpriv") is None:
            pytest.fail("setpriv (util-linux) is needed to test unreadable files as root")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "failed"
    assert "permission denied" in result["reason"]


def test_dash_path_after_double_dash_and_missing_path(media: Path, tmp_path: Path) -> None:
    library = tmp_path / "lib"
    proc = run("index", "--library", library, "--json", "--", "-dash.mp4", "nope.mp4", cwd=media)
    results = {Path(r["path"]).name: r for r in lines(proc)}
    assert results["-dash.mp4"]["status"] == "indexed"
    assert results["nope.mp4"] == {
        "path": str(media / "nope.mp4"),
        "video_id": None,
        "status": "failed",
        "reason": "does not exist",
        "ran_again": [],
        "dropped": [],
    }


def test_one_bad_entry_fails_alone_and_each_line_comes_as_its_file_is_done(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "media"
    folder.mkdir()
    (folder / "a-loop.mp4").symlink_to("a-loop.mp4")  # sorted first: its line comes at once
    odd_name = os.fsdecode(b"caf\xe9.mp4")  # Latin-1, not UTF-8
    write_video(folder / odd_name, [(GREEN, 1.0)])
    # Sound shorter than the picture, and sound longer than it.
    t = np.arange(5 * 16000) / 16000
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    write_av(folder / "short-sound.mp4", np.zeros((100, 48, 64, 3), np.uint8), 10, tone, 16000)
    write_av(folder / "short-picture.mp4", np.zeros((20, 48, 64, 3), np.uint8), 10, tone, 16000)
    outside = write_video(tmp_path / "outside.mp4", [(RED, 1.0)])
    (folder / "link-out.mp4").symlink_to(outside)
    (folder / "dangling.mp4").symlink_to(folder / "gone.mp4")
    write_video(folder / "z-good.mp4", [(BLUE, 1.0)])
    library = tmp_path / "lib"
    command = [*CLI, "index", str(folder), "--library", str(library), "--json"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert proc.poll() is None  # printed while the other files were still to do
        rest = [json.loads(line) for line in proc.stdout]
        code = proc.wait(timeout=240)
    assert code == 1
    results = {Path(r["path"]).name: r for r in [first, *rest]}
    assert first["path"] == str(folder / "a-loop.mp4")
    assert first["status"] == "failed" and "symbolic links" in first["reason"]
    assert results["link-out.mp4"]["status"] == "failed"
    assert "not followed" in results["link-out.mp4"]["reason"]
    assert results["dangling.mp4"]["reason"] == "is a link that leads nowhere"
    for name in ("caf\\xe9.mp4", "short-sound.mp4", "short-picture.mp4", "z-good.mp4"):
        assert results[name]["status"] == "indexed", results[name]
    # The odd name is kept as bytes: the next run finds it unchanged.
    again = lines(run("index", folder / odd_name, "--library", library, "--json"))
    assert again[0]["status"] == "unchanged"
    status = lines(run("status", "--library", library, "--json"))[0]
    assert status["videos"] == {"indexed": 4, "failed": 3, "pending": 0}
    shown = run("show", folder / odd_name, "--library", library)
    assert shown.returncode == 0 and "caf\\xe9.mp4" in shown.stdout


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1.1 MB file system (tmpfs), to fill."""
    where = tmp_path / "small"
    where.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=1100k", "tmpfs", str(where)]
    if os.geteuid() != 0 or subprocess.run(mount, check=False).returncode != 0:
        pytest.fail("filling a disk is tested on a tmpfs, which needs root and mount")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)


def test_a_full_disk_stops_the_run_with_a_sentence_and_loses_nothing(
    tmp_path: Path, small_disk: Path
) -> None:
    folder = tmp_path / "media"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):  # noise does not compress: every clip's thumbnails take room
        frames = rng.integers(0, 255, (40, 240, 320, 3), dtype=np.uint8)
        write_av(folder / f"v{i}.mp4", frames, 10, rng.normal(0, 0.1, 4 * 16000), 16000)
    env = {
        **os.environ,
        "VIDEOLEARN_EXTRACTORS": json.dumps(["file_hash", "media_info", "shots", "thumbnails"]),
    }
    library = small_disk / "lib"
    full = run("index", folder, "--library", library, "--json", env=env, check=False)
    assert full.returncode == 3, full.stderr
    [said] = full.stderr.strip().splitlines()
    # Lance says "No space left on device", SQLite "database or disk is full".
    assert said.startswith("videolearn: stopped: ")
    assert "No space left on device" in said or "disk is full" in said, said
    assert "Traceback" not in full.stderr
    done_before = [r["path"] for r in lines(full) if r["status"] == "indexed"]
    assert 0 < len(done_before) < 8  # each line was printed as its file was done
    subprocess.run(["mount", "-o", "remount,size=50m", str(small_disk)], check=True)
    again = run("index", folder, "--library", library, "--json", env=env)
    assert again.returncode == 0, again.stderr
    statuses = {r["path"]: r["status"] for r in lines(again)}
    assert all(statuses[p] == "unchanged" for p in done_before)
    assert sorted(statuses.values()).count("indexed") == 8 - len(done_before), full.stderr
    assert run("doctor", "--library", library).returncode == 0


def test_following_links_out_of_a_folder_is_a_setting(tmp_path: Path) -> None:
    folder = tmp_path / "media"
    folder.mkdir()
    outside = write_video(tmp_path / "outside.mp4", [(RED, 1.0)], tone_hz=None)
    (folder / "link-out.mp4").symlink_to(outside)
    library = tmp_path / "lib"
    env = {**os.environ, "VIDEOLEARN_DECODE__FOLLOW_LINKS_OUT": "true"}
    [result] = lines(run("index", folder, "--library", library, "--json", env=env))
    assert result["status"] == "indexed"


def test_no_arguments_is_a_usage_error(tmp_path: Path) -> None:
    assert run("index", check=False).returncode == 2
    proc = run("status", "--library", tmp_path / "nothing-here", check=False)
    assert proc.returncode == 2 and "not a videolearn library" in proc.stderr


def _snapshot(library: Path) -> dict[str, list]:
    """Everything stored, without times of writing."""
    with open_library(library) as lib:
        out: dict[str, list] = {"videos": sorted(map(repr, lib.store.videos()))}
        for row_type in ROW_TYPES:
            out[row_type.__name__] = sorted(
                repr(row)
                for video_id in lib.store.video_ids()
                for row in lib.store.rows_of(row_type, video_id)
            )
        out["ledger"] = sorted((e.path, e.video_id, e.status) for e in lib.store.ledger.entries())
    return out


def test_edited_file_is_a_new_video_and_the_old_one_goes(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "clip.mp4", [(RED, 1.0), (BLUE, 1.0)])
    with open_library(tmp_path / "lib", create=True) as lib:
        [first] = lib.index([clip])
        write_video(clip, [(GREEN, 2.0)])  # the user re-exported it
        [second] = lib.index([clip])
        assert second.status == "indexed" and second.video_id != first.video_id
        assert lib.store.video_ids() == {second.video_id}
        assert lib.store.rows_of(MomentRow, first.video_id or "") == []
        assert catalog.doctor(lib).ok


def test_old_table_versions_are_cleaned_up(media: Path, tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "lib", keep_versions_s=0)
    with open_library(create=True, settings=settings) as lib:
        lib.index([media / n for n in sorted(GOOD)])
        lib.index([media / "three.mp4"])
        # Every table is down to its newest version (compaction may add one).
        assert lib.store.version_count() <= 2 * 4


def test_progress_bar_on_a_terminal(media: Path, tmp_path: Path) -> None:
    import pty

    library = tmp_path / "lib"
    command = [*CLI, "index", str(media / "three.mp4"), "--library", str(library)]
    chunks: list[bytes] = []

    def read(fd: int) -> bytes:
        data = os.read(fd, 4096)
        chunks.append(data)
        return data

    status = pty.spawn(command, read)
    screen = b"".join(chunks).decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0
    assert "files 1/1" in screen  # the bar, drawn on the terminal
    assert "1 indexed" in screen


def test_readers_never_see_half_a_video(media: Path, tmp_path: Path) -> None:
    library = tmp_path / "lib"
    run("index", media / "silent.mkv", "--library", library)  # the library exists
    videos = [media / n for n in sorted(GOOD) if n != "tone.flac"]
    writer = subprocess.Popen([*CLI, "index", *map(str, videos), "--library", str(library)])
    seen: set[str] = set()
    try:
        deadline = time.monotonic() + 120
        while writer.poll() is None and time.monotonic() < deadline:
            with open_library(library) as lib:
                for video_id in lib.store.video_ids():
                    # Every listed video already has its shots and thumbnails.
                    assert lib.store.rows_of(MomentRow, video_id), video_id
                    assert lib.store.rows_of(ThumbnailRow, video_id), video_id
                    seen.add(video_id)
    finally:
        writer.wait(timeout=120)
    assert writer.returncode == 0
    assert len(seen) >= 2  # the reader really read while the writer wrote


def test_a_file_written_to_while_it_is_read_fails_and_the_next_run_reads_it_whole(
    tmp_path: Path,
) -> None:
    """A camera still copying a file: what was read is a part of it, so it is not stored;
    the next run, finding it unchanged since, indexes it."""
    folder = tmp_path / "media"
    folder.mkdir()
    growing = write_video(folder / "growing.mp4", [(RED, 1.0), (BLUE, 1.0)])

    class GrowWhileRead:
        def file_started(self, path: Path, number: int, total: int) -> None:
            pass

        def media_progress(self, reached_s: float, duration_s: float) -> None:
            if growing.stat().st_size < 10**6:
                with growing.open("ab") as f:  # more of the file arrives
                    f.write(bytes(10**6))

        def file_done(self, result: IndexResult) -> None:
            pass

    settings = load_settings(tmp_path / "lib", extractors=["file_hash", "media_info", "shots"])
    with open_library(create=True, settings=settings) as lib:
        [first] = lib.index([folder], GrowWhileRead())
        assert first.status == "failed"
        assert "changed while it was read" in (first.reason or ""), first.reason
        assert lib.store.video_ids() == set()
        [second] = lib.index([folder])
        assert second.status == "indexed"
        assert lib.store.video_ids() == {second.video_id}
