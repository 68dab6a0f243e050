"""kill -9 at random points of `index`, then the same `index` again: the library equals
an uninterrupted run's, row for row, with its shelf, and `doctor` finds nothing. The
fast suite kills a run four times (`tests/integration/test_cli.py`); this one twenty."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from videolearn.library import open_library
from videolearn.samples import BLUE, GREEN, RED, YELLOW, write_av, write_video
from videolearn.store.tables import ROW_TYPES

CLI = [sys.executable, "-m", "videolearn"]
ENV = {
    **os.environ,
    "VIDEOLEARN_EXTRACTORS": json.dumps(
        ["file_hash", "media_info", "shots", "thumbnails", "fingerprint", "sketch"]
    ),
}
TRIALS = 20


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=240, check=False, env=ENV
    )


def _snapshot(library: Path) -> dict[str, list]:
    """Everything stored and listed, without the times things were written."""
    with open_library(library) as lib:
        store = lib.store
        out: dict[str, list] = {"videos": sorted(map(repr, store.videos()))}
        for row_type in ROW_TYPES:
            out[row_type.__name__] = sorted(
                repr(row) for v in store.video_ids() for row in store.rows_of(row_type, v)
            )
        out["ledger"] = sorted((e.path, e.video_id, e.status) for e in store.ledger.entries())
        rows, _ = store.shelf().page(sort="name", limit=1000)
        out["shelf"] = sorted((r.video_id, r.path, r.duration_s, r.kinds) for r in rows)
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list], float]:
    """The media, what an uninterrupted run stores of them, and how long that run took."""
    folder = tmp_path_factory.mktemp("kills")
    media = folder / "media"
    media.mkdir()
    for n, colour in enumerate((RED, GREEN, BLUE, YELLOW)):
        write_video(media / f"clip{n}.mp4", [(colour, 1.5), (BLUE, 1.5)])
    noise = np.random.default_rng(0)
    frames = noise.integers(0, 255, (40, 96, 128, 3), dtype=np.uint8)
    write_av(media / "noise.mp4", frames, 10, noise.normal(0, 0.1, 4 * 16000), 16000)
    started = time.monotonic()
    assert _run("index", media, "--library", folder / "reference").returncode == 0
    return media, _snapshot(folder / "reference"), time.monotonic() - started


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_run_killed_at_a_random_point_resumes_to_the_same_library(
    trial: int, reference: tuple[Path, dict[str, list], float], tmp_path: Path
) -> None:
    media, expected, whole_s = reference
    library = tmp_path / "library"
    proc = subprocess.Popen(
        [*CLI, "index", str(media), "--library", str(library)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Each trial its own point, from start-up to clean-up, the same in every run.
    time.sleep(random.Random(trial).uniform(0.05, 1.0) * whole_s)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    resumed = _run("index", media, "--library", library, "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr, resumed.stderr
    assert _snapshot(library) == expected
    doctor = _run("doctor", "--library", library)
    assert doctor.returncode == 0, doctor.stdout
    assert not list(Path("/dev/shm").glob(f"videolearn-decode-{proc.pid}-*"))
