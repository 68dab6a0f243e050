"""PDQ, Facebook's perceptual image hash, compiled with numba: the same bits as the C++.

vPDQ hashes every frame of a video, so PDQ is most of its cost (75-97% in Facebook's own
`vpdq`). This is the reference algorithm (ThreatExchange `pdq/cpp`: luma, two passes of box
filters along rows then columns, decimation to 64x64, a 16x16 slice of the DCT, bits above
the median) with the same float32 operations in the same order, so hashes and qualities
are bit for bit those of the C++ and of the `pdqhash` bindings. It is faster only by
reading memory better: the box filter runs eight rows at a time along rows and all columns
at once along columns, luma is computed inside the first pass, the second pass computes
only the 64 columns and rows the decimation keeps, and buffers are reused across frames.
The kernels release the GIL, so `hash_pictures` spreads a batch of frames over threads.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

# The reference skips images smaller than this on either side (hash 0, quality 0).
MIN_SIDE_PX = 5
_ROWS_AT_ONCE = 8


def _dct_matrix() -> np.ndarray:
    # Rows 1-16 of the 64-point DCT-II, float32 entries computed in double as the C++ does.
    scale = float(np.float32(math.sqrt(2.0 / 64)))
    out = np.empty((16, 64), np.float32)
    for i in range(16):
        for j in range(64):
            out[i, j] = scale * math.cos((math.pi / 2.0 / 64) * (i + 1) * (2 * j + 1))
    return out


_DCT = _dct_matrix()


@njit(cache=True, nogil=True)
def _window(size: int) -> int:
    # computeJaroszFilterWindowSize(size, 64): half of a 1/64 block, rounded up.
    return (size + 127) // 128


@njit(cache=True, nogil=True)
def _box_down(src: np.ndarray, dst: np.ndarray, window: int, sums: np.ndarray) -> None:
    """box1DFloat down the first axis of src into dst, every column at once.

    Along rows too: given transposed views, the columns are rows; each element's sums
    still run in the reference's order.
    """
    rows, cols = src.shape
    half = (window + 2) // 2
    sums[:cols] = 0
    ri = li = oi = size = 0
    for _ in range(half - 1):
        for j in range(cols):
            sums[j] += src[ri, j]
        ri += 1
        size += 1
    for _ in range(window - half + 1):
        size += 1
        n = np.float32(size)
        for j in range(cols):
            sums[j] += src[ri, j]
            dst[oi, j] = sums[j] / n
        ri += 1
        oi += 1
    n = np.float32(size)
    for _ in range(rows - window):
        for j in range(cols):
            sums[j] += src[ri, j]
            sums[j] -= src[li, j]
            dst[oi, j] = sums[j] / n
        ri += 1
        li += 1
        oi += 1
    for _ in range(half - 1):
        size -= 1
        n = np.float32(size)
        for j in range(cols):
            sums[j] -= src[li, j]
            dst[oi, j] = sums[j] / n
        li += 1
        oi += 1


@njit(inline="always")
def _luma(rgb: np.ndarray, i: int, j: int) -> np.float32:
    # fillFloatLumaFromRGB, in float32.
    return (
        np.float32(0.299) * np.float32(rgb[i, j, 0])
        + np.float32(0.587) * np.float32(rgb[i, j, 1])
        + np.float32(0.114) * np.float32(rgb[i, j, 2])
    )


@njit(cache=True, nogil=True)
def _luma_rows(rgb: np.ndarray, first: int, count: int, out: np.ndarray) -> None:
    for k in range(count):
        for j in range(rgb.shape[1]):
            out[k, j] = _luma(rgb, first + k, j)


@njit(cache=True, nogil=True)
def _downsample(
    rgb: np.ndarray, full: np.ndarray, other: np.ndarray, narrow: np.ndarray, lines: np.ndarray
) -> np.ndarray:
    """The 64x64 luma the reference hashes: two x/y passes of box filters, then decimation.

    full, other: (rows, cols) float32; narrow: (2, rows, 64) float32; lines: two
    (_ROWS_AT_ONCE, cols) float32 buffers, the filters' running sums and scratch rows.
    """
    rows, cols = rgb.shape[0], rgb.shape[1]
    block = np.empty((64, 64), np.float32)
    keep_rows = np.empty(64, np.int64)
    keep_cols = np.empty(64, np.int64)
    for i in range(64):  # decimateFloat: the centres of 64 bands, computed in double
        keep_rows[i] = int(((i + 0.5) * rows) / 64)
        keep_cols[i] = int(((i + 0.5) * cols) / 64)
    if rows == 64 and cols == 64:  # the reference takes a 64x64 picture as it is
        _luma_rows(rgb, 0, 64, block)
        return block
    along_rows, along_cols = _window(cols), _window(rows)
    sums = lines[0].ravel()
    # Pass 1: luma and the row filter, eight rows at a time, then the column filter.
    for first in range(0, rows, _ROWS_AT_ONCE):
        count = min(_ROWS_AT_ONCE, rows - first)
        _luma_rows(rgb, first, count, lines[1])
        _box_down(lines[1][:count, :cols].T, full[first : first + count].T, along_rows, sums)
    _box_down(full, other, along_cols, sums)
    # Pass 2: the row filter keeps only the 64 columns decimation reads, and the column
    # filter runs over those alone.
    for first in range(0, rows, _ROWS_AT_ONCE):
        count = min(_ROWS_AT_ONCE, rows - first)
        filtered = lines[1][:count, :cols]
        _box_down(other[first : first + count].T, filtered.T, along_rows, sums)
        for k in range(count):
            for j in range(64):
                narrow[0, first + k, j] = filtered[k, keep_cols[j]]
    _box_down(narrow[0], narrow[1], along_cols, sums)
    for i in range(64):
        block[i] = narrow[1, keep_rows[i]]
    return block


@njit(cache=True, nogil=True)
def _hash_block(block: np.ndarray, dct: np.ndarray) -> tuple[np.ndarray, int]:
    """Quality and the 256 bits (as 32 big-endian bytes) of a 64x64 luma block."""
    gradient = 0
    hundred, full_scale = np.float32(100), np.float32(255)
    for i in range(63):
        for j in range(64):
            gradient += abs(int((block[i, j] - block[i + 1, j]) * hundred / full_scale))
    for i in range(64):
        for j in range(63):
            gradient += abs(int((block[i, j] - block[i, j + 1]) * hundred / full_scale))
    quality = min(100, gradient // 90)
    # (16, 64) = D A, then (16, 16) = (D A) D^T; each sum runs over k in order, as in C++.
    partial = np.zeros((16, 64), np.float32)
    for i in range(16):
        for k in range(64):
            d = dct[i, k]
            for j in range(64):
                partial[i, j] += d * block[k, j]
    coefficients = np.empty(256, np.float32)
    for i in range(16):
        for j in range(16):
            total = np.float32(0)
            for k in range(64):
                total += partial[i, k] * dct[j, k]
            coefficients[i * 16 + j] = total
    median = np.sort(coefficients)[127]  # Torben's median: the 128th smallest of 256
    digest = np.zeros(32, np.uint8)
    for k in range(256):
        if coefficients[k] > median:
            digest[31 - (k >> 3)] |= np.uint8(1 << (k & 7))
    return digest, quality


class PdqHasher:
    """Hashes pictures one after another, reusing its buffers while the size stays put.

    Not for use from two threads at once: give each thread its own.
    """

    def __init__(self) -> None:
        self._shape: tuple[int, int] = (0, 0)
        self._buffers: tuple[np.ndarray, ...] = ()

    def hash(self, rgb: np.ndarray) -> tuple[bytes, int]:
        """PDQ of an (H, W, 3) uint8 RGB picture.

        Returns:
            The 32-byte hash (most significant bit first, as its 64 hex digits read) and
            the quality, 0-100. Pictures under 5 px on a side give zeros and quality 0.
        """
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"PDQ needs an (H, W, 3) uint8 picture, not {rgb.shape} {rgb.dtype}")
        rows, cols = rgb.shape[:2]
        if rows < MIN_SIDE_PX or cols < MIN_SIDE_PX:
            return bytes(32), 0
        if self._shape != (rows, cols):
            self._shape = (rows, cols)
            self._buffers = (
                np.empty((rows, cols), np.float32),
                np.empty((rows, cols), np.float32),
                np.empty((2, rows, 64), np.float32),
                np.empty((2, _ROWS_AT_ONCE, max(cols, 64)), np.float32),
            )
        block = _downsample(np.ascontiguousarray(rgb), *self._buffers)
        digest, quality = _hash_block(block, _DCT)
        return digest.tobytes(), int(quality)


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()
_local = threading.local()


def _thread_hasher() -> PdqHasher:
    hasher: PdqHasher | None = getattr(_local, "hasher", None)
    if hasher is None:
        hasher = _local.hasher = PdqHasher()
    return hasher


def available_cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0))


def hash_pictures(
    pictures: Sequence[np.ndarray] | np.ndarray,
    threads: int = 1,
    prepare: Callable[[np.ndarray], Sequence[np.ndarray]] | None = None,
) -> list[list[tuple[bytes, int]]]:
    """PDQ (hash, quality) of each picture, in order, on up to `threads` threads.

    Args:
        pictures: (H, W, 3) uint8 RGB pictures, e.g. a decoded batch's (N, H, W, 3) frames.
        threads: how many threads share the work (0: one per available core).
        prepare: turns each picture into the pictures to hash (a crop, tiles), on the
            hashing thread; by default each picture is hashed as it is.

    Returns:
        For each picture, the hashes of what `prepare` made of it.
    """

    def work(part: Sequence[np.ndarray] | np.ndarray) -> list[list[tuple[bytes, int]]]:
        hasher = _thread_hasher()
        return [[hasher.hash(q) for q in (prepare(p) if prepare else (p,))] for p in part]

    threads = min(threads or available_cores(), len(pictures))
    if threads <= 1:
        return work(pictures)
    with _pools_lock:
        pool = _pools.get(threads)
        if pool is None:
            pool = _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="pdq")
    step = -(-len(pictures) // threads)
    parts = [pool.submit(work, pictures[i : i + step]) for i in range(0, len(pictures), step)]
    return [result for part in parts for result in part.result()]


@njit(cache=True, nogil=True)
def _line_is_flat(
    rgb: np.ndarray, index: int, is_row: bool, line: np.ndarray, tolerance: float
) -> bool:
    # Every pixel's luma within `tolerance` of the line's median luma.
    n = rgb.shape[1] if is_row else rgb.shape[0]
    for k in range(n):
        i, j = (index, k) if is_row else (k, index)
        line[k] = _luma(rgb, i, j)
    return bool(np.abs(line[:n] - np.median(line[:n])).max() <= tolerance)


@njit(cache=True, nogil=True)
def uniform_borders(rgb: np.ndarray, tolerance: float) -> tuple[int, int, int, int]:
    """Rows and columns of one flat colour at each edge of an (H, W, 3) picture: (top,
    bottom, left, right), each at most 40% of its dimension. Scans inward from each edge
    and stops at the first line with detail, so a picture without borders costs 4 lines.
    """
    rows, cols = rgb.shape[0], rgb.shape[1]
    line = np.empty(max(rows, cols), np.float32)
    top = bottom = left = right = 0
    while top < 2 * rows // 5 and _line_is_flat(rgb, top, True, line, tolerance):
        top += 1
    while bottom < 2 * rows // 5 and _line_is_flat(rgb, rows - 1 - bottom, True, line, tolerance):
        bottom += 1
    while left < 2 * cols // 5 and _line_is_flat(rgb, left, False, line, tolerance):
        left += 1
    while right < 2 * cols // 5 and _line_is_flat(rgb, cols - 1 - right, False, line, tolerance):
        right += 1
    return top, bottom, left, right
