"""`videolearn learn` end to end: a library of generated clips, two processes under
torchrun (gloo), and a training process killed with SIGKILL that resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from videolearn.learning.synthetic import SEEN, render
from videolearn.samples import write_av

ENV = {
    **os.environ,
    "VIDEOLEARN_EXTRACTORS": '["file_hash", "media_info"]',
    "VIDEOLEARN_LEARN__SIZE": "ci",
    "VIDEOLEARN_LEARN__VIDEO_MODEL": "r2plus1d",
    "VIDEOLEARN_LEARN__BATCH_SIZE": "8",
    "VIDEOLEARN_LEARN__CHECKPOINT_EVERY_S": "0.5",
}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_library(tmp_path_factory.mktemp("learn"))


def make_library(root: Path) -> Path:
    """Six generated clips of 3 s, indexed."""
    media = root / "media"
    media.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        clip = render(SEEN[i], rng, duration_s=3.0, fps=8, size_px=32)
        write_av(media / f"clip-{i}.mp4", clip.frames, 8.0, clip.audio, 16000)
    lib = root / "library"
    cmd = [sys.executable, "-m", "videolearn", "index", str(media), "--library", str(lib)]
    subprocess.run(cmd, env=ENV, check=True, capture_output=True, timeout=280)
    return lib


def learn(library: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "videolearn", "learn", "--library", str(library), *args]


def test_two_processes_train_one_model(library: Path) -> None:
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    cmd = [*torchrun, "-m", "videolearn", "learn", "--library", str(library), "--steps", "3"]
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=280, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = torch.load(library / "models" / "av.pt", weights_only=False)
    assert state["step"] == 3 and state["config"]["batch_size"] == 8


def test_a_killed_run_resumes_from_its_checkpoint(library: Path) -> None:
    checkpoint = library / "models" / "av.pt"
    checkpoint.unlink(missing_ok=True)
    # 40 steps: enough to be killed part way (a checkpoint every 0.5 s), few enough that
    # the resumed run ends in well under its time limit (~2.5 steps/s here under load; 80
    # steps ran past 180 s with two training benchmarks beside the suite).
    proc = subprocess.Popen(learn(library, "--steps", "40"), env=ENV, stdout=subprocess.DEVNULL)
    # Inner waits add up to less than pytest's own 300 s, so that a slow machine fails
    # here with a reason rather than in pytest's timeout.
    deadline = time.monotonic() + 100
    while not checkpoint.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = torch.load(checkpoint, weights_only=False)["step"]
    assert 0 < saved < 40
    # Resumed: it goes on from there (same config) instead of starting over.
    done = subprocess.run(
        learn(library, "--steps", "40"), env={**ENV, "VIDEOLEARN_LEARN__CHECKPOINT_EVERY_S": "60"},
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resuming from step {saved}" in done.stdout
    assert torch.load(checkpoint, weights_only=False)["step"] == 40


def test_an_empty_library_says_what_to_do(tmp_path: Path) -> None:
    lib = tmp_path / "library"
    subprocess.run(
        [sys.executable, "-m", "videolearn", "bank", "create", "X", "--library", str(lib)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    proc = subprocess.run(
        learn(lib, "--steps", "1"),
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1 and "index some first" in proc.stderr


def test_learning_words_without_shot_vectors_says_what_to_do(library: Path) -> None:
    # The library was indexed without av_embed: no look to learn words for.
    proc = subprocess.run(
        learn(library, "--words"), env=ENV, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "no shot vectors" in proc.stderr and "av_embed" in proc.stderr
    assert not (library / "models" / "words.npz").exists()


def test_benchmark_runs_every_protocol_against_its_baselines(tmp_path: Path) -> None:
    from videolearn.learning.benchmark import BenchmarkConfig, run

    config = BenchmarkConfig(
        train_files=24,
        eval_per_concept=3,
        duplicates=6,
        seeds=2,
        models=("r2plus1d",),
        train_minutes=0.1,
        batch_size=8,
    )
    lines: list[str] = []
    results = run(tmp_path / "bench", config, lines.append)
    keys = {
        "heldout_knn_video",
        "heldout_knn_audio",
        "heldout_linear_video",
        "seen_new_v2a_concept_top1",
        "heldout_v2a_instance_r10",
        "sync_accuracy",
        "heldout_nmi",
    }
    runs = results["models"]["r2plus1d"]
    for kind in ("trained", "random_init"):
        assert keys | {f"{k}_std" for k in keys} <= set(runs[kind])
        assert all(0.0 <= runs[kind][k] <= 1.0 for k in keys)
    assert {"heldout_knn_video", "heldout_nmi", "duplicate_top1"} <= set(results["raw"])
    assert results["chance"]["heldout_knn_video"] == 1 / 8
    assert results["chance"]["seen_new_v2a_concept_top1"] == 1 / 16
    # The files were written and read back as media; a second run reuses them.
    assert len(list((tmp_path / "bench").glob("*.mp4"))) == 24 + 24 * 3 + 6
    assert any("decoded" in line for line in lines)
