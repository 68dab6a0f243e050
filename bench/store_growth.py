"""Write cost as a library grows: per-video time of `write_video` at 1k, 10k and 100k
videos, against the first videos written in the same run.

Synthetic videos (`bench/synthetic.py`: 3 shots, 6 learned vectors, a text vector, a
caption, two sound labels, an MD5, a fingerprint and 121 sketches each) are written one by
one through the store's write path under one write lock, with `maintain` every
`--every` videos as `index` does (`maintain_every`), as in a long run (old table versions
dropped once per `drop_versions_every_s`). Each window of `--every` writes is printed: the time
in the store per video, the maintenance at its end included (drawing the synthetic videos
is not timed); the figures are the first window's, and at each checkpoint the mean over
the last 10 windows (so that the drop of old versions, a few seconds once per
`drop_versions_every_s`, counts for the videos it serves). The run's end, which drops them
whatever their age, is timed apart. Then a share of the videos is written again (a new
extractor version replacing what was there). Goal: the last figure within 1.5x of the
first.

The machine's load changes over a run of an hour (another job on the cores doubles a
write), so the first window is also measured again beside each checkpoint: over the
windows a checkpoint's mean covers, each video written to the growing library is
followed by one written to a fresh library (a new one each window, its first `--every`
videos, its maintenance at the window's end): the same work the first window did, under
the same load. The ratio to that is printed beside the ratio to the first window.

    python bench/store_growth.py [--videos 100000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from synthetic import SyntheticVideos
from videolearn.config import load_settings
from videolearn.library import open_library

# Windows a figure is the mean over (the first's aside).
SPREAD = 10


class Reference:
    """A fresh library written beside the growing one, a video for each of its: the first
    window's work under the load of the moment."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.settings = settings = load_settings(root)
        self.source = SyntheticVideos(np.random.default_rng(0))
        self._opened = ExitStack()
        self.lib = self._opened.enter_context(open_library(root, create=True, settings=settings))
        self._opened.enter_context(self.lib.store.writing())
        self.written = 0
        self.spent = 0.0

    def write(self) -> None:
        video, outputs = self.source.video(self.written)
        t = time.perf_counter()
        self.lib.store.write_video(video, outputs)
        self.spent += time.perf_counter() - t
        self.written += 1

    def close(self) -> float:
        """Its maintenance, as the window's; the ms a video it took; the library deleted."""
        t = time.perf_counter()
        self.lib.store.maintain(
            self.settings.vector_index_min_rows,
            self.settings.keep_versions_s,
            run_over=False,
            drop_every_s=self.settings.drop_versions_every_s,
        )
        self.spent += time.perf_counter() - t
        self._opened.close()
        shutil.rmtree(self.root)
        return self.spent * 1000 / self.written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--rewrites", type=int, default=1000)
    parser.add_argument("--every", type=int, default=500, help="videos between maintenance")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    if args.videos < args.every:
        parser.error("--videos must be at least --every")
    source = SyntheticVideos(np.random.default_rng(0))
    checkpoints = sorted(
        {c for c in (1000, 5000, 10_000, 100_000, args.videos) if c <= args.videos}
    )
    # The windows a checkpoint's mean covers: each has a fresh library written beside it.
    beside = {c - k * args.every for c in checkpoints for k in range(SPREAD)}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        root = Path(tmp) / "library"
        settings = load_settings(root)
        every = args.every
        windows: dict[int, float] = {}
        references: dict[int, float] = {}
        recent: list[tuple[int, float]] = []  # (videos, seconds) of the last windows
        fresh: list[float] = []  # ms a video in the fresh libraries of the last windows
        started = time.perf_counter()
        with open_library(root, create=True, settings=settings) as lib, lib.store.writing():
            store = lib.store
            spent = 0.0  # in the store this window: writes
            reference: Reference | None = None
            for n in range(args.videos):
                if n % every == 0 and n + every in beside:
                    reference = Reference(Path(tmp) / f"fresh-{n}")
                video, outputs = source.video(n)
                t = time.perf_counter()
                store.write_video(video, outputs)
                spent += time.perf_counter() - t
                if reference is not None:
                    reference.write()
                if (n + 1) % every == 0 or n + 1 == args.videos:
                    t = time.perf_counter()
                    store.maintain(
                        settings.vector_index_min_rows,
                        settings.keep_versions_s,
                        run_over=False,
                        drop_every_s=settings.drop_versions_every_s,
                    )
                    upkeep = time.perf_counter() - t
                    done = n + 1
                    size = every if done % every == 0 else done % every
                    recent = [*recent[-(SPREAD - 1) :], (size, spent + upkeep)]
                    if reference is not None:
                        fresh = [*fresh[-(SPREAD - 1) :], reference.close()]
                        reference = None
                    # The first window alone; later ones over the last SPREAD windows, so
                    # that the old versions' drop, once per drop_versions_every_s, is spread
                    # over the videos it is for.
                    mean_ms = sum(s for _, s in recent) * 1000 / sum(v for v, _ in recent)
                    if done == every:
                        windows[done] = (spent + upkeep) * 1000 / size
                    elif any(done == c for c in checkpoints):
                        windows[done] = mean_ms
                    if done in checkpoints:
                        references[done] = float(np.mean(fresh))
                        fresh = []
                    print(
                        f"  {done:>7,} videos: {(spent + upkeep) * 1000 / size:.1f} ms a video "
                        f"(writes {spent * 1000 / size:.1f}, maintenance "
                        f"{upkeep * 1000 / size:.1f}); over the last {len(recent)} windows "
                        f"{mean_ms:.1f} ms; {time.perf_counter() - started:.0f} s in all",
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
        print(
            f"per-video write, maintenance included: the first window of {every}, then the "
            f"mean over the last {SPREAD} windows"
        )
        for done, mean_ms in windows.items():
            line = f"  at {done:>7,} videos: {mean_ms:6.1f} ms (ratio {mean_ms / first:.2f})"
            if done in references:
                now = references[done]
                line += (
                    f"; a fresh library's first window beside it {now:.1f} ms (ratio "
                    f"{mean_ms / now:.2f})"
                )
            print(line)
        print(
            f"replacing {len(again):,} stored videos at {args.videos:,}: {rewrite_ms:.1f} ms a "
            f"video (ratio {rewrite_ms / first:.2f}); rows: {dict(counts)}"
        )


if __name__ == "__main__":
    main()
