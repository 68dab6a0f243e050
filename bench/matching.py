"""Lookups against a large PDQ hash index: the matcher's FAISS index against brute force.

Builds `--n` random PDQ hashes (10 million by default) plus planted near copies of some of
them (1-31 bits flipped), then times range lookups at distance 31 through the matcher's
`HashIndex`, one query at a time and in batches, checks that every result equals a numpy
brute-force scan, and prints the ratio against that scan measured in the same run.
Goals (issue #5): at least 1,000 lookups/s in one process, at most 1 GB resident for the
index.

    python bench/matching.py [--n 10000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np

from videolearn.apps.matching import HashIndex


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    import faiss

    faiss.omp_set_num_threads(1)  # measured per process, one core
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, (args.n, 32), dtype=np.uint8)
    targets = rng.choice(args.n, size=args.queries, replace=False)
    queries = codes[targets].copy()
    for q in queries:  # flip 1-31 bits: each query has at least its planted match
        bits = np.unpackbits(q)
        bits[rng.choice(256, size=int(rng.integers(1, 32)), replace=False)] ^= 1
        q[:] = np.packbits(bits)
    hexes = [bytes(q).hex() for q in queries]

    before = rss_mb()
    t = time.perf_counter()
    index = HashIndex(codes, np.zeros(args.n, np.int32), np.zeros(1), np.zeros(1))
    build_s = time.perf_counter() - t
    index_mb = rss_mb() - before

    t = time.perf_counter()
    single = [index.search([h], 31)[0] for h in hexes]
    single_s = time.perf_counter() - t
    t = time.perf_counter()
    batched = index.search(hexes, 31)
    batched_s = time.perf_counter() - t

    # Reference: numpy brute force over all hashes (popcount of XOR), a few queries.
    table = np.unpackbits(codes, axis=1)
    check = min(20, args.queries)
    t = time.perf_counter()
    for i in range(check):
        distances = (table != np.unpackbits(queries[i])).sum(axis=1)
        expected = {(int(r), int(distances[r])) for r in np.flatnonzero(distances <= 31)}
        assert set(single[i]) == expected == set(batched[i]), f"query {i} differs"
        assert int(targets[i]) in {r for r, _ in single[i]}
    brute_s = (time.perf_counter() - t) / check

    print(f"hashes: {args.n:,}; index built in {build_s:.1f} s; index memory ~{index_mb:.0f} MB")
    print(f"brute force (numpy):   {1 / brute_s:10.1f} lookups/s")
    print(f"FAISS flat, one query: {args.queries / single_s:10.1f} lookups/s")
    print(f"FAISS flat, batched:   {args.queries / batched_s:10.1f} lookups/s")
    print(f"ratio batched/brute force: {brute_s * args.queries / batched_s:.1f}")
    print(f"results identical to brute force on {check} queries; goal >= 1,000 lookups/s, <= 1 GB")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident: {peak:.0f} MB (includes the brute-force table)")


if __name__ == "__main__":
    main()
