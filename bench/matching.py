"""Lookups against a large PDQ hash index: the matcher's Hamming index against brute force.

Builds `--n` random PDQ hashes (10 million by default) plus planted near copies of some of
them (1-31 bits flipped), then times range lookups at distance 31 through the matcher's
`HashIndex`, one query at a time and in batches, checks that every result equals a numpy
brute-force scan (popcount of XOR over all hashes), and prints the ratio against that scan
measured in the same run. Then drops the index, builds it again and reports the resident
memory after each step, to show a rebuild gives its memory back.
Goals (issue #5): at least 1,000 lookups/s in one process, at most 1 GB resident for the
index.

    python bench/matching.py [--n 10000000] [--queries 1000]
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

import numpy as np

from videolearn.apps.matching import HashIndex


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def build(codes: np.ndarray) -> HashIndex:
    n = len(codes)
    return HashIndex(codes, np.zeros(n, np.int32), np.zeros(n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--check", type=int, default=50, help="queries checked by brute force")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, (args.n, 32), dtype=np.uint8)
    targets = rng.choice(args.n, size=args.queries, replace=False)
    queries = codes[targets].copy()
    for q in queries:  # flip 1-31 bits: each query has at least its planted match
        bits = np.unpackbits(q)
        bits[rng.choice(256, size=int(rng.integers(1, 32)), replace=False)] ^= 1
        q[:] = np.packbits(bits)
    hexes = [bytes(q).hex() for q in queries]
    build(codes[: 1 << 17]).search(hexes[:2], 31)  # compile the kernels outside the timings

    gc.collect()
    before = rss_mb()
    t = time.perf_counter()
    index = build(codes)
    build_s = time.perf_counter() - t
    index_mb = rss_mb() - before

    t = time.perf_counter()
    single = [index.search([h], 31)[0] for h in hexes]
    single_s = time.perf_counter() - t
    t = time.perf_counter()
    batched = index.search(hexes, 31)
    batched_s = time.perf_counter() - t

    # Reference: numpy brute force over all hashes, the same queries.
    table = codes.view(np.uint64)
    check = min(args.check, args.queries)
    t = time.perf_counter()
    for i in range(check):
        distances = np.bitwise_count(table ^ queries[i].view(np.uint64)).sum(axis=1)
        expected = {(int(r), int(distances[r])) for r in np.flatnonzero(distances <= 31)}
        assert sorted(single[i]) == sorted(expected) == sorted(batched[i]), f"query {i} differs"
        assert int(targets[i]) in {r for r, _ in single[i]}
    brute_s = (time.perf_counter() - t) / check
    assert all(int(targets[i]) in {r for r, _ in batched[i]} for i in range(args.queries))

    size_mb = index.size_bytes / 1e6
    resident = [rss_mb()]
    for _ in range(2):  # what the matcher does when banks change: build anew, drop the old
        index = build(codes)
        gc.collect()
        resident.append(rss_mb())

    print(
        f"hashes: {args.n:,}; index built in {build_s:.1f} s; index holds {size_mb:.0f} MB "
        f"(codes and tables; resident grew {index_mb:.0f} MB beside the caller's codes)"
    )
    print(f"brute force (numpy):   {1 / brute_s:10.1f} lookups/s")
    print(f"index, one query:      {args.queries / single_s:10.1f} lookups/s")
    print(f"index, batched:        {args.queries / batched_s:10.1f} lookups/s")
    print(f"ratio one query/brute force: {brute_s * args.queries / single_s:.0f}")
    print(
        f"results identical to brute force on {check} queries, every planted match found; "
        "goal >= 1,000 lookups/s, <= 1 GB"
    )
    print(
        f"resident before the index {before:.0f} MB; after building it, and after each of two "
        f"rebuilds: {', '.join(f'{mb:.0f}' for mb in resident)} MB"
    )


if __name__ == "__main__":
    main()
