"""Moderation speed: judging an indexed video under 10 policies with 10,000 listed terms,
and judging a whole library again (what a change of policies or banks costs).

A library of synthetic videos is written through the store's write path (each: 30
speech moments and 6 on-screen readings of 12 words from a 5,000-word vocabulary, 4
sound events, text vectors for each reading), then judged under 10 policies: 6 term
lists of 1,667 terms each (words and two-word phrases; half with inflections), 2 sound
rules, a bank rule and a meaning rule. Printed against a reference measured in the same
run, reading each video's stored moments alone (what any judgment must read):

- judging one video (the median and p95 over up to 1,000 videos spread over the
  library), and its ratio to the read;
- judging the whole library again, and the time projected to 100,000 videos.

A library written to `--keep` is kept, written on from where it stopped when a run was
cut short, and reused (grown when `--videos` asks for more).

    python bench/moderate.py [--videos N] [--quick] [--keep DIR] [--write-only]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from videolearn.apps.moderation import Moderator, moderate
from videolearn.apps.policies import load_policies
from videolearn.config import load_settings
from videolearn.extractors.base import Moment, TextEmbedding, ValueSignal
from videolearn.library import open_library
from videolearn.store import ExtractorOutput
from videolearn.store.tables import MomentRow, VideoRow
from videolearn.types import TimeSpan

SOUNDS = ["Speech", "Music", "Vehicle", "Dog", "Gunshot, gunfire", "Explosion", "Laughter"]


def _policies(folder: Path, rng: np.random.Generator) -> Path:
    words = np.array([f"t{n:05d}" for n in range(8000)])
    lines = []
    for p in range(6):
        first, second = rng.choice(words, 1667), rng.choice(words, 1667)
        pairs = enumerate(zip(first, second, strict=True))
        terms = [str(a) if k % 2 else f"{a} {b}" for k, (a, b) in pairs]
        (folder / f"terms{p}.txt").write_text("\n".join(terms), encoding="utf-8")
        lines += [
            f"[policies.terms{p}]",
            'action = "review"',
            f'terms = {{ files = ["terms{p}.txt"], inflections = {str(p % 2 == 0).lower()} }}',
        ]
    lines += [
        "[policies.shots]",
        'action = "flag"',
        'sounds = { labels = ["Gunshot, gunfire", "Machine gun"], min_score = 0.5 }',
        "[policies.blasts]",
        'action = "flag"',
        'sounds = { labels = ["Explosion"], min_score = 0.7 }',
        "[policies.known]",
        'action = "block"',
        'banks = { names = ["KNOWN"] }',
        "[policies.threats]",
        'action = "review"',
        'meaning = { description = "I am going to hurt you", min_relevance = 6.0 }',
    ]
    path = folder / "policies.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _video(n: int, vocabulary: np.ndarray) -> tuple[VideoRow, list[ExtractorOutput]]:
    """The `n`-th synthetic video, drawn from its own seed (a kept library written on
    from where it stopped draws the same videos)."""
    rng = np.random.default_rng([0, n])
    video_id = hashlib.sha256(str(n).encode()).hexdigest()
    spans = [TimeSpan(4.0 * k, 4.0 * k + 3.5) for k in range(30)]
    said = [" ".join(rng.choice(vocabulary, 12)) for _ in spans]
    shown = [" ".join(rng.choice(vocabulary, 4)) for _ in range(6)]
    moments = [
        Moment(s, "speech", text=t, attrs={"language": "en"})
        for s, t in zip(spans, said, strict=True)
    ]
    readings = [Moment(spans[k * 5], "text", text=t) for k, t in enumerate(shown)]
    sounds = [
        Moment(spans[k * 7], "sound", label=str(rng.choice(SOUNDS)), score=0.6) for k in range(4)
    ]
    vectors = np.asarray(rng.normal(size=(len(said), 384)), np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    outputs = [
        ExtractorOutput("file_hash", 1, [ValueSignal(spans[0], "md5", video_id[:32])]),
        ExtractorOutput("speech", 1, moments),
        ExtractorOutput("ocr", 1, readings),
        ExtractorOutput("sounds", 1, sounds),
        ExtractorOutput(
            "text_embed",
            2,
            [
                TextEmbedding(s, "e5_speech", v, "e5", t)
                for s, v, t in zip(spans, vectors, said, strict=True)
            ],
        ),
    ]
    return VideoRow(video_id, f"/bench/{n:06d}.mp4", 120.0), outputs


def _write(root: Path, videos: int) -> None:
    """Write `videos` synthetic videos to the library at `root` (those it holds already
    kept), folding indexes and compacting as `index` does."""
    # An array: drawing from a list converts it to one at every draw.
    vocabulary = np.array([f"w{n:04d}" for n in range(5000)] + [f"t{n:05d}" for n in range(50)])
    settings = load_settings(root)
    started = time.perf_counter()
    with open_library(root, create=True, settings=settings) as lib, lib.store.writing():
        if "KNOWN" not in {b.name for b in lib.store.banks.summaries()}:
            lib.store.banks.create("KNOWN")
        stored = lib.store.video_ids()
        if stored:
            print(f"  {len(stored):,} videos were written before")
        written = 0
        # The store's time over each window of `maintain_every` videos (drawing them
        # aside), and the maintenance's at its end.
        in_store = 0.0
        firsts: list[float] = []
        for n in range(videos):
            if hashlib.sha256(str(n).encode()).hexdigest() in stored:
                continue  # written before (its id is its number's; nothing drawn)
            video, outputs = _video(n, vocabulary)
            t = time.perf_counter()
            lib.store.write_video(video, outputs)
            in_store += time.perf_counter() - t
            written += 1
            if written % settings.maintain_every == 0:
                t = time.perf_counter()
                lib.store.maintain(
                    settings.vector_index_min_rows, settings.keep_versions_s, run_over=False
                )
                upkeep = time.perf_counter() - t
                window = (in_store + upkeep) / settings.maintain_every * 1000
                firsts = firsts or [window]
                print(
                    f"  at {len(stored) + written:,} videos: {window:.1f} ms a video, "
                    f"{upkeep / settings.maintain_every * 1000:.1f} of it maintenance "
                    f"(ratio to this run's first window {window / firsts[0]:.2f})"
                )
                in_store = 0.0
            if (n + 1) % 1000 == 0:
                print(f"  {n + 1:,} videos written ({time.perf_counter() - started:.0f} s)")
        lib.store.maintain(settings.vector_index_min_rows, 0)
    print(f"wrote {written:,} videos in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="200 videos")
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="write the library here and keep it; a kept library is written on from where "
        "it stopped, then reused",
    )
    parser.add_argument(
        "--write-only", action="store_true", help="write the videos and stop (no judging)"
    )
    args = parser.parse_args()
    videos = 200 if args.quick else args.videos
    folder = Path(tempfile.mkdtemp())
    try:
        root = args.keep or folder / "library"
        _write(root, videos)
        if args.write_only:
            return
        path = _policies(folder, np.random.default_rng(0))
        started = time.perf_counter()
        policies = load_policies(path)
        print(
            f"read 10 policies, {sum(map(len, policies.terms.values())):,} terms, in "
            f"{time.perf_counter() - started:.2f} s"
        )
        with open_library(root) as lib:
            rows = lib.store.videos()
            # Up to 1,000 videos spread over the library.
            sample = rows[:: max(1, len(rows) // 1000)]
            reads = []
            for row in sample:
                t = time.perf_counter()
                lib.store.rows_of(MomentRow, row.video_id)
                reads.append(time.perf_counter() - t)
            moderator = Moderator(lib.store, lib.settings, policies)
            moderator.judge(rows[0])  # loads the text model and builds the automata
            judged = []
            for row in sample:
                t = time.perf_counter()
                moderator.judge(row)
                judged.append(time.perf_counter() - t)
            # The whole library, as a change of policies has it judged: by batches.
            started = time.perf_counter()
            again = moderate(lib, policies=policies, keep=False)
            whole = time.perf_counter() - started
        read_ms = statistics.median(reads) * 1000
        judge_ms = statistics.median(judged) * 1000
        p95 = float(np.percentile(judged, 95)) * 1000
        print(f"reading a video's moments (reference): median {read_ms:.1f} ms")
        print(
            f"judging a video: median {judge_ms:.1f} ms, p95 {p95:.1f} ms over {len(sample):,} "
            f"videos ({judge_ms / read_ms:.1f}x the read; goal 50 ms)"
        )
        print(
            f"judging the library again: {whole:.1f} s for {again.videos:,} videos, "
            f"{len(again.verdicts):,} verdicts; at that rate 100,000 take "
            f"{whole / again.videos * 100_000 / 60:.1f} min (goal 10)"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
