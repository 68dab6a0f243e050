"""Exact Hamming range search over 256-bit codes (PDQ hashes): multi-index hashing.

The matcher asks, for each query hash, every banked hash within `max_distance` bits (31 by
default), and the answer must equal a brute-force scan. A flat scan reads every code per
query (FAISS's flat index does 24-83 lookups/s at 10 million hashes on one core here), so
larger indexes use multi-index hashing (Norouzi, Punjani and Fleet, "Fast Search in Hamming
Space with Multi-Index Hashing", CVPR 2012): the 256 bits are cut into `m` chunks of 16-22
bits and every code is filed in one table per chunk under that chunk's value. With
`max_distance = a*m + b` (0 <= b < m) a code within the distance differs in at most `a` bits
in one of the first `b+1` chunks or in at most `a-1` bits in one of the others, so probing
those tables with every key at most that far from the query's chunk finds every candidate;
each candidate is then checked against the whole code and reported from the first table
that could have found it, so once. Chunk width follows the index size (about log2(N) - 2
bits) so buckets stay small. Radii above 2 bits per chunk (thresholds from about 36 bits at
10 million codes) fall back to the flat scan, which is exact too, only slower.

The kernels are compiled with numba: the work is memory-bound, about 7,000 random reads per
query at 10 million codes, and the loops prefetch each candidate before they read it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

CODE_BYTES = 32
# Below this many codes one scan is cheaper than the tables (2 MB of codes).
FLAT_BELOW = 1 << 16
MAX_CHUNK_RADIUS = 2


def _popcount_intrinsic(typingctx: Any, x: Any) -> tuple[Any, Any]:
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.ctpop(args[0])

    return types.uint64(types.uint64), codegen


def _prefetch_intrinsic(typingctx: Any, address: Any) -> tuple[Any, Any]:
    # llvm.prefetch(ptr, read, high locality, data cache): a hint, never a fault.
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ptr = builder.inttoptr(args[0], cgutils.voidptr_t)
        int32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t, int32, int32, int32])
        fn = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call]
            builder.module, fnty, "llvm.prefetch.p0"
        )
        builder.call(fn, [ptr, int32(0), int32(3), int32(1)])
        return context.get_dummy_value()

    return types.void(types.uint64), codegen


# Callable only from compiled code.
_popcount: Any = intrinsic(_popcount_intrinsic)
_prefetch: Any = intrinsic(_prefetch_intrinsic)


@njit(inline="always")
def _chunk(codes: np.ndarray, i: int, start: int, width: int) -> np.int64:
    # Bits [start, start + width) of code i, read from its four little-endian words.
    word = start >> 6
    shift = start & 63
    v = codes[i, word] >> np.uint64(shift)
    if shift + width > 64:
        v |= codes[i, word + 1] << np.uint64(64 - shift)
    return np.int64(v & np.uint64((1 << width) - 1))


@njit(inline="always")
def _distance(codes: np.ndarray, i: int, queries: np.ndarray, q: int) -> np.int64:
    return np.int64(
        _popcount(codes[i, 0] ^ queries[q, 0])
        + _popcount(codes[i, 1] ^ queries[q, 1])
        + _popcount(codes[i, 2] ^ queries[q, 2])
        + _popcount(codes[i, 3] ^ queries[q, 3])
    )


@njit(cache=True, nogil=True)
def _build_tables(
    codes: np.ndarray, starts: np.ndarray, widths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # One counting sort per chunk: ids[c] lists the codes ordered by chunk c's value and
    # offsets[base[c] + v : base[c] + v + 2] brackets those whose chunk c equals v.
    n = codes.shape[0]
    m = starts.shape[0]
    base = np.zeros(m + 1, np.int64)
    for c in range(m):
        base[c + 1] = base[c] + (1 << widths[c]) + 1
    offsets = np.zeros(base[m], np.uint32)
    ids = np.empty((m, n), np.uint32)
    for c in range(m):
        start, width, o = starts[c], widths[c], base[c]
        for i in range(n):
            offsets[o + _chunk(codes, i, start, width) + 1] += 1
        for v in range(1 << width):
            offsets[o + v + 1] += offsets[o + v]
        fill = offsets[o : o + (1 << width)].astype(np.int64)
        for i in range(n):
            value = _chunk(codes, i, start, width)
            ids[c, fill[value]] = i
            fill[value] += 1
    return base, offsets, ids


@njit(cache=True, nogil=True)
def _grow(a: np.ndarray, size: int | np.int64) -> np.ndarray:
    out = np.empty(max(size, 2 * a.shape[0]), a.dtype)
    out[: a.shape[0]] = a
    return out


@njit(cache=True, nogil=True)
def _search_flat(
    codes: np.ndarray, queries: np.ndarray, max_distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    out_q = np.empty(1024, np.int64)
    out_row = np.empty(1024, np.int64)
    out_d = np.empty(1024, np.int64)
    k = 0
    for q in range(queries.shape[0]):
        for i in range(codes.shape[0]):
            d = _distance(codes, i, queries, q)
            if d <= max_distance:
                if k == out_q.shape[0]:
                    out_q, out_row, out_d = _grow(out_q, k), _grow(out_row, k), _grow(out_d, k)
                out_q[k], out_row[k], out_d[k] = q, i, d
                k += 1
    return out_q[:k], out_row[:k], out_d[:k]


@njit(cache=True, nogil=True)
def _search_tables(
    codes: np.ndarray,
    tables: tuple[np.ndarray, ...],
    radii: np.ndarray,
    queries: np.ndarray,
    max_distance: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    starts, widths, base, offsets, ids = tables
    m, n = ids.shape
    codes_at = np.uint64(codes.ctypes.data)
    offsets_at = np.uint64(offsets.ctypes.data)
    ids_at = np.uint64(ids.ctypes.data)
    n_probes = 0
    for c in range(m):
        w = widths[c]
        if radii[c] >= 0:
            n_probes += 1 + (w if radii[c] >= 1 else 0) + (w * (w - 1) // 2 if radii[c] >= 2 else 0)
    probe_chunk = np.empty(n_probes, np.int64)
    probe_key = np.empty(n_probes, np.int64)  # position in offsets
    probe_lo = np.empty(n_probes, np.int64)
    probe_hi = np.empty(n_probes, np.int64)
    cand = np.empty(1 << 14, np.int64)
    cand_chunk = np.empty(1 << 14, np.int64)
    out_q = np.empty(1024, np.int64)
    out_row = np.empty(1024, np.int64)
    out_d = np.empty(1024, np.int64)
    k = 0
    for q in range(queries.shape[0]):
        # Every key within each chunk's radius of the query's chunk value.
        p = 0
        for c in range(m):
            if radii[c] < 0:
                continue
            w, o = widths[c], base[c]
            v = _chunk(queries, q, starts[c], w)
            probe_chunk[p], probe_key[p] = c, o + v
            p += 1
            if radii[c] >= 1:
                for x in range(w):
                    probe_chunk[p], probe_key[p] = c, o + (v ^ (1 << x))
                    p += 1
            if radii[c] >= 2:
                for x in range(w):
                    for y in range(x + 1, w):
                        probe_chunk[p], probe_key[p] = c, o + (v ^ (1 << x) ^ (1 << y))
                        p += 1
        # Three passes so each random read was prefetched a pass earlier: bucket bounds,
        # then bucket contents, then the candidate codes.
        for j in range(p):
            _prefetch(offsets_at + np.uint64(probe_key[j]) * np.uint64(4))
        total = np.int64(0)
        for j in range(p):
            lo, hi = np.int64(offsets[probe_key[j]]), np.int64(offsets[probe_key[j] + 1])
            probe_lo[j], probe_hi[j] = lo, hi
            if hi > lo:
                _prefetch(ids_at + np.uint64(probe_chunk[j] * n + lo) * np.uint64(4))
            total += hi - lo
        if total > cand.shape[0]:
            cand, cand_chunk = _grow(cand, total), _grow(cand_chunk, total)
        t = 0
        for j in range(p):
            c = probe_chunk[j]
            for x in range(probe_lo[j], probe_hi[j]):
                i = np.int64(ids[c, x])
                cand[t], cand_chunk[t] = i, c
                t += 1
                _prefetch(codes_at + np.uint64(i) * np.uint64(CODE_BYTES))
        for j in range(t):
            i = cand[j]
            d = _distance(codes, i, queries, q)
            if d > max_distance:
                continue
            # Report it from the first table that finds it: skip if an earlier chunk was
            # within its radius too.
            seen = False
            for e in range(cand_chunk[j]):
                if radii[e] >= 0:
                    delta = _chunk(codes, i, starts[e], widths[e]) ^ _chunk(
                        queries, q, starts[e], widths[e]
                    )
                    if _popcount(np.uint64(delta)) <= radii[e]:
                        seen = True
                        break
            if seen:
                continue
            if k == out_q.shape[0]:
                out_q, out_row, out_d = _grow(out_q, k), _grow(out_row, k), _grow(out_d, k)
            out_q[k], out_row[k], out_d[k] = q, i, d
            k += 1
    return out_q[:k], out_row[:k], out_d[:k]


def chunk_layout(n: int, chunks: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Start bit and width of each chunk for an index of `n` codes (wider chunks first).

    Unless `chunks` says how many, about log2(n) - 2 bits per chunk, between 12 and 16
    chunks: at 10 million codes, 12 chunks of 21-22 bits (buckets of 2-5 codes, 934 MB with
    the codes themselves).
    """
    m = chunks or min(16, max(12, round(256 / (math.log2(max(n, 2)) - 2))))
    if not 12 <= m <= 16:
        raise ValueError(f"between 12 and 16 chunks of at most 22 bits, not {m}")
    widths = np.array([256 // m + (1 if c < 256 % m else 0) for c in range(m)], np.int64)
    starts = np.concatenate([[0], np.cumsum(widths[:-1])]).astype(np.int64)
    return starts, widths


def chunk_radii(m: int, max_distance: int) -> np.ndarray:
    """How many bits each of `m` chunks is probed with for `max_distance` (-1: not probed)."""
    a, b = divmod(max_distance, m)
    return np.array([a if c <= b else a - 1 for c in range(m)], np.int64)


class HammingIndex:
    """256-bit codes searched exactly by Hamming distance.

    Args:
        codes: (N, 32) uint8, one code per row (PDQ hashes as bytes).
        chunks: how many chunks the tables cut codes into (12-16); by default chosen from N.
            With it set the tables are built at any N; without, only from 65,536 codes.
    """

    def __init__(self, codes: np.ndarray, chunks: int | None = None) -> None:
        codes = np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1, CODE_BYTES)
        self._codes = codes.view(np.uint64)  # (N, 4)
        self._tables: tuple[np.ndarray, ...] | None = None  # starts, widths, base, offsets, ids
        if len(codes) >= FLAT_BELOW or chunks:
            starts, widths = chunk_layout(len(codes), chunks)
            base, offsets, ids = _build_tables(self._codes, starts, widths)
            self._tables = (starts, widths, base, offsets, ids)

    def __len__(self) -> int:
        return int(self._codes.shape[0])

    @property
    def size_bytes(self) -> int:
        """Memory held by the codes and the tables."""
        return int(self._codes.nbytes + sum(a.nbytes for a in self._tables or ()))

    def search(
        self, queries: np.ndarray, max_distance: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every code within `max_distance` bits of each query.

        Args:
            queries: (Q, 32) uint8.
            max_distance: the largest Hamming distance reported, in bits.

        Returns:
            `(limits, rows, distances)`: query `q`'s results are `rows[limits[q]:limits[q+1]]`
            at `distances[...]` bits, in no particular order.
        """
        queries = np.ascontiguousarray(queries, dtype=np.uint8).reshape(-1, CODE_BYTES)
        q64 = queries.view(np.uint64)
        if not len(self) or not len(queries) or max_distance < 0:
            found_q = rows = distances = np.zeros(0, np.int64)
        elif self._tables is None:
            found_q, rows, distances = _search_flat(self._codes, q64, max_distance)
        else:
            radii = chunk_radii(len(self._tables[0]), max_distance)
            if radii.max() > MAX_CHUNK_RADIUS:
                found_q, rows, distances = _search_flat(self._codes, q64, max_distance)
            else:
                found_q, rows, distances = _search_tables(
                    self._codes, self._tables, radii, q64, max_distance
                )
        # Results come out grouped by query, in query order.
        limits = np.zeros(len(queries) + 1, np.int64)
        np.cumsum(np.bincount(found_q, minlength=len(queries)), out=limits[1:])
        return limits, rows, distances
