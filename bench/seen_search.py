"""Search by look through the words map over a large library: what a `visual:` query
costs once `learn --words` has learned its map, p50/p95.

Writes `--shots` shot vectors (128-d, as the shipped model's `av_video`; one of 500
random directions plus noise each) in `--videos` videos through the store's own write
path, and a words map (random weights, of the model that embeds the shots) as
`learn --words` saves it. Then times `--queries` queries of `search_moments` with a
`visual:` query, one at a time:

- `warm`: a process that has answered before (a server): the shot vectors and their
  lengths through the map are kept under the library's state (`apps.search.ShotLooks`);
- `new process`: the first query of a new process (a command), the shot vectors read
  back from `LIBRARY/cache/`, the lengths computed again;
- reference, measured in the same run: what each query did before they were kept,
  reading every shot vector from the store and comparing them through the map
  (`Store.embedding_matrix` and `SeenWords.similarities`).

    python bench/seen_search.py [--shots 100000] [--videos 200] [--queries 50]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from videolearn.apps import search
from videolearn.apps.search import background_queries, search_moments
from videolearn.config import load_settings
from videolearn.extractors.base import Embedding
from videolearn.extractors.text_embed import TextEmbedder
from videolearn.learning.embed import DEFAULT_CHECKPOINT, embed_model_name
from videolearn.learning.words import WORDS_MAP, SeenWords
from videolearn.library import open_library
from videolearn.store import ExtractorOutput
from videolearn.store.tables import VideoRow
from videolearn.types import TimeSpan

QUERIES = (
    "red ball bouncing",
    "a dog running on the beach",
    "Kreis gleitet zur Seite",
    "el barco en el lago",
    "une voiture rouge",
)


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ms = np.array(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=100_000)
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    model = embed_model_name(DEFAULT_CHECKPOINT)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(Path(tmp) / "library", keep_versions_s=0)
        per_video = args.shots // args.videos
        directions = rng.normal(size=(500, 128))
        began = time.perf_counter()
        with open_library(create=True, settings=settings) as lib:
            for v in range(args.videos):
                x = directions[rng.integers(0, 500, per_video)] + rng.normal(size=(per_video, 128))
                x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
                shots = [
                    Embedding(TimeSpan(i * 4.0, i * 4.0 + 4.0), "av_video", x[i], model)
                    for i in range(per_video)
                ]
                lib.store.write_video(
                    VideoRow(f"{v:064x}", f"/videos/{v:05d}.mp4", duration_s=per_video * 4.0),
                    [ExtractorOutput("av_embed", 1, shots, model)],
                )
            lib.store.cleanup_versions(0)
        learned = SeenWords(
            rng.normal(size=(128, 384)).astype(np.float32) / 11,
            rng.normal(size=384).astype(np.float32) / 11,
            model,
            pairs=1,
            shots=1,
            sentences=1,
            steps=1,
            loss=0.0,
        )
        learned.save(settings.library / WORDS_MAP)
        n = per_video * args.videos
        wrote_s = time.perf_counter() - began
        print(f"{n:,} shot vectors in {args.videos} videos, written in {wrote_s:.0f} s")
        embedder = TextEmbedder()
        embedder.load()
        queries = [QUERIES[i % len(QUERIES)] for i in range(args.queries)]
        times: dict[str, list[float]] = {"warm": [], "new process": [], "reference": []}
        answered = 0
        with open_library(settings=settings) as lib:
            search_moments(lib, "visual:" + queries[0], 10, embedder)  # kept from here on
            for q in queries:
                t = time.perf_counter()
                answered += bool(search_moments(lib, "visual:" + q, 10, embedder))
                times["warm"].append(time.perf_counter() - t)
            for q in queries[: max(3, args.queries // 10)]:
                search._looks.clear()  # as a new process finds it: only the file is kept
                t = time.perf_counter()
                search_moments(lib, "visual:" + q, 10, embedder)
                times["new process"].append(time.perf_counter() - t)
            background = background_queries(embedder)
            for q in queries:
                t = time.perf_counter()
                _, matrix = lib.store.embedding_matrix("av_video", model)
                texts = np.vstack([embedder.query(q), background])
                learned.similarities(matrix, texts)
                times["reference"].append(time.perf_counter() - t)
    ref_p95 = percentiles(times["reference"])[1]
    print(f"{args.queries} visual queries, one at a time (ms); ratio = reference p95 / p95")
    print("search        p50      p95    ratio")
    for name, measured in times.items():
        p50, p95 = percentiles(measured)
        print(f"{name:11s} {p50:7.1f}  {p95:7.1f}  {ref_p95 / p95:6.1f}")
    print(f"answered (a shot shown at the default floor): {answered}/{args.queries}")
    print(f"ratio warm/reference p95: {ref_p95 / percentiles(times['warm'])[1]:.1f}x faster")


if __name__ == "__main__":
    main()
