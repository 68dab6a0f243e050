"""Write cost as a library grows: per-video time of `write_video` at 1k, 10k and 100k
videos, against the first videos written in the same run.

Synthetic videos (`bench/synthetic.py`: 3 shots, 6 learned vectors, a text vector, a
caption, two sound labels, an MD5, a fingerprint and 121 sketches each) are written one by
one through the store's write path under one write lock, with `maintain` every
`--every` videos as `index` does (`maintain_every`); each figure is the mean time in the
store per video over a window of `--every` writes, the maintenance at the window's end
included (drawing the synthetic videos is not timed), as in a long run (old table
versions dropped once per `keep_versions_s`); the run's end, which drops them whatever
their age, is timed apart. Then a share
of the videos is written again (a new extractor version replacing what was there) at the
end. Goal: the last window within 1.5x of the first.

    python bench/store_growth.py [--videos 100000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np

from synthetic import SyntheticVideos
from videolearn.config import load_settings
from videolearn.library import open_library


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--rewrites", type=int, default=1000)
    parser.add_argument("--every", type=int, default=500, help="videos between maintenance")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    source = SyntheticVideos(np.random.default_rng(0))
    checkpoints = sorted(
        {c for c in (1000, 5000, 10_000, 100_000, args.videos) if c <= args.videos}
    )
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        root = Path(tmp) / "library"
        settings = load_settings(root)
        every = args.every
        windows: dict[int, float] = {}
        started = time.perf_counter()
        with open_library(root, create=True, settings=settings) as lib, lib.store.writing():
            store = lib.store
            spent = 0.0  # in the store this window: writes
            for n in range(args.videos):
                video, outputs = source.video(n)
                t = time.perf_counter()
                store.write_video(video, outputs)
                spent += time.perf_counter() - t
                if (n + 1) % every == 0 or n + 1 == args.videos:
                    t = time.perf_counter()
                    store.maintain(
                        settings.vector_index_min_rows, settings.keep_versions_s, run_over=False
                    )
                    upkeep = time.perf_counter() - t
                    done = n + 1
                    size = every if done % every == 0 else done % every
                    mean_ms = (spent + upkeep) * 1000 / size
                    if done == every or any(done == c for c in checkpoints):
                        windows[done] = mean_ms
                    if done % (10 * every) == 0 or done in windows or done <= 10 * every:
                        print(
                            f"  {done:>7,} videos: {mean_ms:.1f} ms a video over the last "
                            f"{size} (writes {spent * 1000 / size:.1f}, maintenance "
                            f"{upkeep * 1000 / size:.1f}; {time.perf_counter() - started:.0f} s "
                            "in all)",
                            flush=True,
                        )
                    spent = 0.0
            # The end of a run drops the old versions whatever their age.
            t = time.perf_counter()
            store.maintain(settings.vector_index_min_rows, settings.keep_versions_s)
            print(f"  the run's end (old versions dropped): {time.perf_counter() - t:.1f} s")
            rng = np.random.default_rng(1)
            again = rng.choice(args.videos, min(args.rewrites, args.videos), replace=False)
            spent = 0.0
            for n in again:
                video, outputs = source.video(int(n))
                # A new version of one extractor: its rows are replaced, the rest kept.
                outputs = [
                    dataclasses.replace(o, version=2) if o.name == "ocr" else o for o in outputs
                ]
                t = time.perf_counter()
                store.write_video(video, outputs)
                spent += time.perf_counter() - t
            t = time.perf_counter()
            store.maintain(settings.vector_index_min_rows, settings.keep_versions_s)
            rewrite_ms = (spent + time.perf_counter() - t) * 1000 / len(again)
            counts = store.table_counts()
        first = windows[min(windows)]
        print(f"per-video write over a window of {every} (maintenance included):")
        for done, mean_ms in windows.items():
            print(f"  at {done:>7,} videos: {mean_ms:6.1f} ms (ratio {mean_ms / first:.2f})")
        print(
            f"replacing {len(again):,} stored videos at {args.videos:,}: {rewrite_ms:.1f} ms a "
            f"video (ratio {rewrite_ms / first:.2f}); rows: {dict(counts)}"
        )


if __name__ == "__main__":
    main()
