"""Recommendation speed: fingerprinting, and `similar` over a large synthetic library.

1. Fingerprinting: Chromaprint over `--audio-s` seconds of a generated song at 16 kHz, as
   the `fingerprint` extractor feeds it, in seconds of sound per second of one core; the
   reference, in the same run, is resampling the same sound to 11,025 Hz with PyAV (the
   first step any fingerprinter takes). Goal: at least 100x realtime per core.
2. `similar`: `--videos` synthetic videos (100,000 for the issue's goal; 5,000 by default,
   which writes in minutes) through the store's own write path, each with what `index`
   stores (`bench/synthetic.py`: vectors, a caption, sound labels, an MD5, a fingerprint
   of one of `--songs` "songs" (1,000), the copy rule's sketches; one video in 50 a
   re-encoded copy of the one before). Then `--queries` calls of `similar` on random
   videos, after the first (which builds the library's profiles and fingerprint postings,
   timed apart), and `--cli` calls of `videolearn similar` as a person runs it (a new
   process each: imports, opening the library, building what the first call builds). The
   reference, in the same run: an exact numpy scan of the look vectors (one matrix-vector
   product and an argpartition), to which the p95 is given as a ratio. Goals: p95 under
   100 ms on 2 cores at 100,000 videos; a CLI call under 1 s at 1,000. It also prints the
   library's size on disk. `--videos 10000 --songs 100` puts each song in as many videos
   as at 100,000 (what the copy rule's sound asks cost) and writes in minutes. `--judged`
   first runs the copy rule on every candidate pair of the library, as an `index` run's
   themes hook does, so that `similar` reads the verdicts the library keeps; it times
   that search, the same again with nothing new (what the library keeps of it read
   back), and again after `--later` (10) more videos are written (their candidates
   alone searched; those videos are deleted after). A library written to `--keep` that
   was cut short is written on from where it stopped.

    python bench/recommend.py [--videos 5000] [--queries 100] [--cli 3] [--audio-s 600]
        [--songs 1000] [--judged [--later 10]] [--workdir DIR] [--keep DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from synthetic import SyntheticVideos, synthetic_id
from videolearn.apps.copies import find_copies
from videolearn.apps.recommend import similar
from videolearn.config import load_settings
from videolearn.extractors.fingerprint import fingerprint
from videolearn.library import open_library
from videolearn.samples import song


def _fingerprint_speed(audio_s: float) -> None:
    import av

    samples = song(audio_s, seed=1)
    start = time.process_time()
    fingerprint(samples)
    fp_s = time.process_time() - start
    resampler = av.AudioResampler(format="s16", layout="mono", rate=11_025)
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = 16_000
    start = time.process_time()
    resampler.resample(frame)
    resampler.resample(None)
    ref_s = time.process_time() - start
    print(
        f"fingerprint: {audio_s / fp_s:,.0f}x realtime per core "
        f"({fp_s * 1000:.0f} ms CPU for {audio_s:.0f} s); resampling alone "
        f"{audio_s / ref_s:,.0f}x (ratio {fp_s / ref_s:.1f})"
    )


def _write_library(root: Path, videos: int, songs: int, rng: np.random.Generator) -> np.ndarray:
    settings = load_settings(root)
    source = SyntheticVideos(rng, songs)
    looks = np.zeros((videos, 128), np.float32)
    started = time.perf_counter()
    with open_library(root, create=True, settings=settings) as lib, lib.store.writing():
        # A run cut short goes on where it stopped: the videos drawn again in order (each
        # is drawn from the ones before), those stored not written again but the last.
        stored = lib.store.video_ids()
        if stored:
            print(f"  {len(stored):,} videos were written before: going on")
        last = max((n for n in range(videos) if synthetic_id(n) in stored), default=-1)
        for n in range(videos):
            video, outputs = source.video(n)
            looks[n] = next(o for o in outputs if o.name == "av_embed").signals[0].vector
            if n < last and video.video_id in stored:
                continue
            lib.store.write_video(video, outputs)
            # Indexes folded and fragments compacted as `index` does (`maintain_every`).
            if (n + 1) % settings.maintain_every == 0:
                lib.store.maintain(
                    settings.vector_index_min_rows, settings.keep_versions_s, run_over=False
                )
            if (n + 1) % 1000 == 0:
                print(f"  {n + 1:,} videos written ({time.perf_counter() - started:.0f} s)")
        lib.store.maintain(settings.vector_index_min_rows, 0)
    return looks


def _judge(root: Path, songs: int, later: int, rng: np.random.Generator) -> None:
    """Find every copy in the library as an index run's themes hook does: the whole
    library (its first time, or under a changed rule), again with nothing new, and
    after `later` more videos (taken out again after, so that a kept library stays
    as written)."""
    with open_library(root) as lib:
        for when in ("every video not searched before", "again, nothing new"):
            start = time.perf_counter()
            found = find_copies(lib.store, lib.settings)
            print(
                f"copy rule, {when}: {time.perf_counter() - start:.1f} s "
                f"({len(found.links):,} copies, {len(found.shared_sound):,} pairs sharing sound)"
            )
        if not later:
            return
        source = SyntheticVideos(rng, songs)
        first = len(lib.store.video_ids())
        added = []
        with lib.store.writing():
            for n in range(first, first + later):
                video, outputs = source.video(n)
                lib.store.write_video(video, outputs)
                added.append(video.video_id)
        start = time.perf_counter()
        found = find_copies(lib.store, lib.settings)
        print(
            f"copy rule after {later} more videos: {time.perf_counter() - start:.1f} s "
            f"({len(found.links):,} copies, {len(found.shared_sound):,} pairs sharing sound)"
        )
        with lib.store.writing():
            for video_id in added:
                lib.store.delete_video(video_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--audio-s", type=float, default=600.0)
    parser.add_argument("--cli", type=int, default=3, help="CLI calls to time")
    parser.add_argument(
        "--judged",
        action="store_true",
        help="run the copy rule on every candidate pair first, as `index` does when its "
        "themes hook groups the library (the verdicts are kept in the library)",
    )
    parser.add_argument(
        "--songs",
        type=int,
        default=1000,
        help="songs the videos' sound is drawn from (videos / songs share each one: "
        "100 at 100,000 videos; --videos 10000 --songs 100 asks the same of the copy rule)",
    )
    parser.add_argument(
        "--later",
        type=int,
        default=10,
        help="with --judged: videos added after the first search, to time finding their "
        "copies alone (taken out again after)",
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--keep", type=Path, default=None, help="write the library here and keep it; reuse it"
    )
    args = parser.parse_args()
    _fingerprint_speed(args.audio_s)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        root = args.keep or Path(tmp) / "library"
        if args.keep and (root / "looks.npy").exists():
            looks = np.load(root / "looks.npy")
            print(f"reusing the {len(looks):,} videos written in {root}")
        else:
            started = time.perf_counter()
            looks = _write_library(root, args.videos, args.songs, rng)
            np.save(root / "looks.npy", looks)
            print(f"wrote {args.videos:,} videos in {time.perf_counter() - started:.0f} s")
        if args.judged:
            _judge(root, args.songs, args.later, rng)
        with open_library(root) as lib:
            ids = sorted(lib.store.video_ids())
            start = time.perf_counter()
            similar(lib, [ids[0]])
            print(
                f"first similar (builds profiles and postings): {time.perf_counter() - start:.1f} s"
            )
            times = []
            for video_id in rng.choice(ids, args.queries):
                start = time.perf_counter()
                similar(lib, [str(video_id)])
                times.append(time.perf_counter() - start)
        size_mb = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 1e6
        print(f"library on disk: {size_mb:,.0f} MB ({size_mb * 1000 / len(looks):.0f} KB a video)")
        cli = []
        for video_id in rng.choice(ids, args.cli):
            command = [sys.executable, "-m", "videolearn", "similar", str(video_id)]
            start = time.perf_counter()
            proc = subprocess.run(
                [*command, "--library", str(root)], capture_output=True, text=True, check=False
            )
            cli.append(time.perf_counter() - start)
            if proc.returncode != 0:
                print(proc.stdout + proc.stderr)
        if cli:
            print(
                f"videolearn similar (a new process): best {min(cli):.2f} s, "
                f"median {float(np.median(cli)):.2f} s over {len(cli)} calls"
            )
        reference = []
        for n in rng.integers(0, len(looks), args.queries):
            start = time.perf_counter()
            np.argpartition(-(looks @ looks[n]), 50)[:50]
            reference.append(time.perf_counter() - start)
    p50, p95 = (float(np.percentile(times, q)) * 1000 for q in (50, 95))
    ref95 = float(np.percentile(reference, 95)) * 1000
    print(
        f"similar over {len(looks):,} videos: p50 {p50:.0f} ms, p95 {p95:.0f} ms; "
        f"numpy scan of the look vectors p95 {ref95:.2f} ms (ratio {p95 / ref95:.0f})"
    )


if __name__ == "__main__":
    main()
