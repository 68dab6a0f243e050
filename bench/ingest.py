"""Throughput of `index` with the foundation extractors against a PyAV decode-only pass.

Both sides decode the shared sample videos at the same sampling: every frame scaled to the
shot detector's width (BGR), plus 2 frames/s at the thumbnail width (RGB). The reference is a plain
PyAV loop in this process with one decoder thread; `index` runs the whole pipeline
(hashing, the decode child process, shots, thumbnails, LanceDB writes). Runs alternate so
that machine noise hits both. The ratio is of the best runs (noise only ever slows a run
down); the medians are printed too. Goal: ratio >= 0.7.

    python bench/ingest.py [--repeats 3] [--data ../shared/data/video]
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import av
from av.video.reformatter import VideoReformatter

from videolearn.config import load_settings
from videolearn.library import open_library

REPO = Path(__file__).resolve().parents[1]
# The foundation's extractors; speech has its own benchmark (bench/speech.py).
FOUNDATION = ["file_hash", "media_info", "shots", "thumbnails"]


def decode_only(paths: list[Path], shot_width: int, thumb_width: int, thumb_fps: float) -> int:
    """Plain PyAV: decode every frame, scale it for shots, and 2/s for thumbnails."""
    frames = 0
    reformatter = VideoReformatter()
    for path in paths:
        with av.open(str(path)) as container:
            if not container.streams.video:
                continue
            stream = container.streams.video[0]
            stream.thread_count = 1
            next_thumb_s = 0.0
            for frame in container.decode(stream):
                w = min(shot_width, frame.width)
                h = max(2, round(w * frame.height / frame.width / 2) * 2)
                reformatter.reformat(frame, width=w, height=h, format="bgr24").to_ndarray()
                t = float(frame.pts * frame.time_base) if frame.pts is not None else 0.0
                if t >= next_thumb_s:
                    tw = min(thumb_width, frame.width)
                    th = max(2, round(tw * frame.height / frame.width / 2) * 2)
                    reformatter.reformat(frame, width=tw, height=th, format="rgb24").to_ndarray()
                    next_thumb_s = (math.floor(t * thumb_fps + 1e-6) + 1) / thumb_fps
                frames += 1
    return frames


def index_once(paths: list[Path]) -> tuple[int, float]:
    folder = Path(tempfile.mkdtemp(prefix="videolearn-bench-"))
    try:
        settings = load_settings(folder / "library", keep_versions_s=0, extractors=FOUNDATION)
        with open_library(create=True, settings=settings) as lib:
            results = lib.index(paths)
            failed = [r for r in results if r.status != "indexed"]
            if failed:
                raise SystemExit(f"index failed: {failed}")
            rows = lib.store.videos()
        return sum(r.frames_decoded or 0 for r in rows), sum(r.duration_s or 0.0 for r in rows)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "video")
    args = parser.parse_args()
    paths = sorted(p for p in args.data.iterdir() if p.suffix in {".avi", ".mp4", ".mkv"})
    settings = load_settings("unused")
    thumb_fps = 2.0
    ref_s: list[float] = []
    idx_s: list[float] = []
    frames = media_s = 0.0
    index_once(paths[:1])  # warm-up: forkserver start, imports, page cache
    for _ in range(args.repeats):
        t = time.perf_counter()
        ref_frames = decode_only(
            paths, settings.shot_width_px, settings.thumbnail_width_px, thumb_fps
        )
        ref_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        frames, media_s = index_once(paths)
        idx_s.append(time.perf_counter() - t)
    ref, idx = min(ref_s), min(idx_s)
    print(f"files: {len(paths)} ({', '.join(p.name for p in paths)})")
    print(f"media: {media_s:.1f} s, {frames:.0f} frames (reference decoded {ref_frames})")
    print(
        f"decode-only (reference): {ref_frames / ref:8.1f} frames/s  {media_s / ref:6.1f}x realtime"
    )
    print(f"index (whole pipeline):  {frames / idx:8.1f} frames/s  {media_s / idx:6.1f}x realtime")
    print(f"ratio index/decode-only: {ref / idx:.2f}  (goal >= 0.70; best of {args.repeats})")
    median_ratio = statistics.median(ref_s) / statistics.median(idx_s)
    print(f"ratio of medians:        {median_ratio:.2f}")


if __name__ == "__main__":
    main()
