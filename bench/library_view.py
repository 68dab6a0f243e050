"""The library view's speed: a page of a large library's videos, sorted and filtered, from
the Python API and as the web page a browser gets.

On a library written through the store (synthetic videos, `bench/synthetic.py`; or
`--library DIR`, one written before, such as `bench/recommend.py --keep DIR`'s 100,000),
it prints:

- putting the library on the shelf the first time it is looked at (a library written
  before the shelf was kept; nothing when it is there);
- `apps.catalog.browse` for the first page (60 videos) under each sort, filtered by a
  kind of moment, and for the last page (median and p95 of `--repeats`), each as a ratio
  to the reference: the bare SQLite query of the same page's rows;
- `GET /` (the web page: the grid, the folders for the folder filter) from `videolearn
  serve` on loopback, median and p95 (goal: under 100 ms at 100,000 videos).

    python bench/library_view.py [--videos 2000] [--library DIR] [--repeats 30]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

from api import free_port, wait_up
from synthetic import SyntheticVideos
from videolearn.apps.catalog import browse
from videolearn.config import load_settings
from videolearn.library import open_library
from videolearn.store.database import DATABASE_FILE


def _times(call: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median and p95 of `call`, in milliseconds."""
    taken = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        taken.append((time.perf_counter() - start) * 1000)
    return statistics.median(taken), float(np.percentile(taken, 95))


def _write(root: Path, videos: int) -> None:
    settings = load_settings(root)
    source = SyntheticVideos(np.random.default_rng(0))
    with open_library(root, create=True, settings=settings) as lib, lib.store.writing():
        for n in range(videos):
            lib.store.write_video(*source.video(n))
            if (n + 1) % settings.maintain_every == 0:
                lib.store.maintain(settings.vector_index_min_rows, 0, run_over=False)
        lib.store.maintain(settings.vector_index_min_rows, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=2000)
    parser.add_argument("--library", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.library or Path(tmp) / "library"
        if args.library is None:
            start = time.perf_counter()
            _write(root, args.videos)
            print(f"wrote {args.videos:,} videos in {time.perf_counter() - start:.0f} s")
        with open_library(root) as lib:
            start = time.perf_counter()
            lib.store.shelf()
            print(f"the shelf, first look: {time.perf_counter() - start:.2f} s")
            total = browse(lib).total
            print(f"{total:,} videos on the shelf")
            db = sqlite3.connect(root / DATABASE_FILE)

            def bare() -> object:
                return db.execute(
                    "SELECT * FROM shelf ORDER BY added_at DESC, path DESC LIMIT 60"
                ).fetchall()

            ref, ref95 = _times(bare, args.repeats)
            print(f"reference, the page's rows from SQLite: median {ref:.2f} ms, p95 {ref95:.2f}")
            cases: dict[str, Callable[[], object]] = {
                f"sorted by {sort}": lambda sort=sort: browse(lib, sort)
                for sort in ("added", "date", "name", "duration")
            }
            cases["only videos with on-screen text"] = lambda: browse(lib, kind="text")
            cases["the last page"] = lambda: browse(lib, offset=max(0, total - 60))
            for what, call in cases.items():
                median, p95 = _times(call, args.repeats)
                print(
                    f"browse, {what}: median {median:.1f} ms, p95 {p95:.1f} "
                    f"({median / ref:.1f}x the reference)"
                )
        port = free_port()
        env = os.environ | {"VIDEOLEARN_SERVE__RATE_PER_S": "1000000"}
        command = [sys.executable, "-m", "videolearn.cli.main", "serve", "--port", str(port)]
        server = subprocess.Popen([*command, "--library", str(root)], env=env)
        try:
            url = f"http://127.0.0.1:{port}/"
            wait_up(url + "api/v1/status", server)
            with httpx.Client(timeout=60) as client:
                client.get(url).raise_for_status()  # the first one warms the shelf and pages
                median, p95 = _times(lambda: client.get(url).raise_for_status(), args.repeats)
            print(f"GET / (the library view's first page): median {median:.1f} ms, p95 {p95:.1f}")
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
