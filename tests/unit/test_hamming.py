"""The Hamming index against brute force, on the cases multi-index hashing gets wrong easily."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from videolearn.store.hamming import HammingIndex, chunk_layout, chunk_radii


def brute_force(codes: np.ndarray, query: np.ndarray, max_distance: int) -> set[tuple[int, int]]:
    distances = np.bitwise_count(codes.view(np.uint64) ^ query.view(np.uint64)).sum(axis=1)
    return {(int(r), int(distances[r])) for r in np.flatnonzero(distances <= max_distance)}


def results(index: HammingIndex, queries: np.ndarray, max_distance: int) -> list[list[tuple]]:
    limits, rows, distances = index.search(queries, max_distance)
    return [
        list(zip(rows[a:b].tolist(), distances[a:b].tolist(), strict=True))
        for a, b in itertools.pairwise(limits.tolist())
    ]


def flip(code: np.ndarray, bits: list[int]) -> np.ndarray:
    unpacked = np.unpackbits(code, bitorder="little")
    unpacked[bits] ^= 1
    return np.packbits(unpacked, bitorder="little")


def worst_cases(query: np.ndarray, chunks: int, max_distance: int) -> list[np.ndarray]:
    """For each chunk, a code that only that chunk's probes can find: it differs from the
    query by exactly that chunk's radius there and by one bit more in every other chunk."""
    starts, widths = chunk_layout(1, chunks)
    radii = chunk_radii(chunks, max_distance)
    out = []
    for c in range(chunks):
        bits = []
        for e, (start, radius) in enumerate(zip(starts, radii, strict=True)):
            bits += [int(start) + k for k in range(radius + (e != c))]
        assert len(bits) == max_distance  # the bound is tight: one more bit and it is out
        out.append(flip(query, bits))
        out.append(flip(query, [*bits, int(starts[c] + widths[c] - 1)]))  # 1 bit too far
    return out


@pytest.mark.parametrize("chunks", [12, 13, 16])
def test_tables_find_exactly_what_brute_force_finds(chunks: int) -> None:
    rng = np.random.default_rng(chunks)
    queries = rng.integers(0, 256, (6, 32), dtype=np.uint8)
    planted = [c for q in queries for c in worst_cases(q, chunks, 31)]
    near = [flip(q, rng.choice(256, 12, replace=False).tolist()) for q in queries]
    codes = np.concatenate([rng.integers(0, 256, (5000, 32), dtype=np.uint8), planted, near, near])
    index = HammingIndex(codes, chunks=chunks)
    for max_distance in (0, 12, 31, 37, 60):  # 37 and 60 take the flat scan
        for query, found in zip(queries, results(index, queries, max_distance), strict=True):
            assert len(found) == len(set(found)), "a code reported twice"
            assert set(found) == brute_force(codes, query, max_distance)
    # At 31 bits every worst case is found and every one-bit-too-far copy is not.
    found = {r for hits in results(index, queries, 31) for r, _ in hits}
    first = 5000
    assert {first + i for i in range(0, len(planted), 2)} <= found
    assert not {first + i for i in range(1, len(planted), 2)} & found


def test_flat_scan_small_index_and_edge_cases() -> None:
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 256, (300, 32), dtype=np.uint8)
    index = HammingIndex(codes)
    assert len(index) == 300 and index.size_bytes == codes.nbytes
    assert [set(f) for f in results(index, codes[:3], 0)] == [{(0, 0)}, {(1, 0)}, {(2, 0)}]
    assert results(index, codes[:0], 31) == []
    assert results(HammingIndex(codes[:0]), codes[:2], 31) == [[], []]
    assert results(index, codes[:1], -1) == [[]]


def test_default_layout_follows_index_size() -> None:
    for n, chunks in [(1 << 16, 16), (1 << 20, 14), (10_000_000, 12), (10**9, 12)]:
        starts, widths = chunk_layout(n)
        assert len(widths) == chunks and widths.sum() == 256 and max(widths) <= 22
        assert list(starts) == [0, *np.cumsum(widths)[:-1].tolist()]
    with pytest.raises(ValueError, match="not 20"):
        chunk_layout(100, 20)
