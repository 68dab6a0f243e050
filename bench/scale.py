"""Indexing throughput of the ray engine at 1 and 2 workers, as a ratio of the local
engine's on the same files in the same run, on a Ray started on this machine.

Generated clips (seeded: shapes drifting over a tinted background, a song laid over
noise, 20 s each) are indexed into a fresh library by each engine in turn; each figure is
files per minute over the whole `index` call (the ray engine's includes starting its
actors and loading their models, as a run does). It prints too the bytes Ray spilled from
its object store (goal 0: a file's frames stay in the actor that decodes them) and, per
engine, whether the libraries hold the same rows.

    python bench/scale.py [--files 12] [--quick] [--workdir DIR]

`--quick` indexes with the extractors that need no model but YAMNet (hashes, media info,
shots, thumbnails, fingerprint, sketches, sound events); the full run with every default
extractor.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from videolearn.config import load_settings
from videolearn.library import open_library
from videolearn.samples import song, write_av

RATE = 16_000
FPS = 10
QUICK = ["file_hash", "media_info", "shots", "thumbnails", "fingerprint", "sketch", "sounds"]


def _clip(path: Path, seconds: float, rng: np.random.Generator) -> None:
    """Shapes of random colours drifting over a tinted background, over a song and noise."""
    frames = np.empty((round(seconds * FPS), 144, 192, 3), np.uint8)
    frames[:] = rng.integers(0, 255, 3, np.uint8)
    boxes = rng.integers(0, 120, (4, 2))
    colours = rng.integers(0, 255, (4, 3), np.uint8)
    steps = rng.integers(-3, 4, (4, 2))
    for t in range(len(frames)):
        for (y, x), colour, (dy, dx) in zip(boxes, colours, steps, strict=True):
            y0, x0 = (y + dy * t) % 110, (x + dx * t) % 160
            frames[t, y0 : y0 + 30, x0 : x0 + 30] = colour
    sound = rng.normal(0, 0.02, round(seconds * RATE)).astype(np.float32)
    sound += song(seconds, int(rng.integers(1 << 16)))
    write_av(path, frames, FPS, sound, RATE)


def _index(media: Path, root: Path, extractors: list[str] | None, **engine: object) -> float:
    """Files per minute of one `index` run into a new library at `root`."""
    settings = load_settings(root, keep_versions_s=0, extractors=extractors, **engine)
    with open_library(create=True, settings=settings) as lib:
        started = time.perf_counter()
        results = lib.index([media])
        seconds = time.perf_counter() - started
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise SystemExit(f"{root.name}: failed: {[(r.path, r.reason) for r in failed]}")
    return len(results) / seconds * 60


def _rows(root: Path) -> dict[str, int]:
    with open_library(root) as lib:
        return dict(lib.store.table_counts())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each clip")
    parser.add_argument("--quick", action="store_true", help="extractors without big models")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    import ray

    extractors = QUICK if args.quick else None
    tmp = Path(tempfile.mkdtemp(dir=args.workdir))
    try:
        media = tmp / "media"
        media.mkdir()
        rng = np.random.default_rng(0)
        for n in range(args.files):
            _clip(media / f"clip{n:03d}.mp4", args.seconds, rng)
        print(f"{args.files} clips of {args.seconds:.0f} s; extractors: {extractors or 'default'}")
        local = _index(media, tmp / "local", extractors)
        print(f"local engine: {local:.1f} files a minute", flush=True)
        with warnings.catch_warnings():  # Ray forks and execs its processes at once
            warnings.filterwarnings("ignore", message=r"lance(db)? .*fork")
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            for workers in (1, 2):
                root = tmp / f"ray{workers}"
                rate = _index(media, root, extractors, engine="ray", ray={"workers": workers})
                same = _rows(root) == _rows(tmp / "local")
                print(
                    f"ray engine, {workers} worker(s) on {cpus} CPUs: {rate:.1f} files a "
                    f"minute, ratio {rate / local:.2f}; rows as the local engine's: {same}",
                    flush=True,
                )
            # Ray spills to files under its session folder (its default spill config).
            session = Path(ray._private.worker._global_node.get_session_dir_path())
            spilled = sum(f.stat().st_size for f in session.rglob("*spill*/**/*") if f.is_file())
            print(f"bytes spilled from Ray's object store: {spilled:,}")
        finally:
            ray.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
