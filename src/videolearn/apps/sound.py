"""Same sound: videos that share an audio track, and where in each the shared sound lies.

Each indexed video has a Chromaprint fingerprint (`extractors.fingerprint`): an item of
32 bits every 0.124 s. Two videos that use the same recording have long runs of items
that agree in nearly every bit at one offset, whatever pictures lie over the sound, while
unrelated sound agrees in about half the bits. Finding them takes two steps:

1. Candidates by voting: every item of the library (its lowest 4 bits dropped, which
   re-encoding flips most) is a posting `(video, position)` in one sorted array; each item
   of the query that finds a posting votes for the pair `(video, position offset)`. A
   shared stretch gives one offset many votes; chance gives scattered single votes.
2. Alignment: at each offset with enough votes, the bits that differ per item pair,
   averaged over a second, mark the items where the two sounds are the same; runs of
   them at least `min_shared_s` long are the shared stretches. A run reaches only as far
   as the alignment beats chance every way (the other's sound a few seconds off and
   anywhere, the query's own a few seconds off), and is mapped back to seconds in both
   videos by where an item's window lies: beside quiet sound in both, an item agrees as
   soon as its window holds any of the shared sound. Each fingerprint ends with the items
   over a window of silence after its sound (`extractors.fingerprint`): a run that goes
   on into them reaches the sound's end, one that stops before them ends where the
   shared sound does. Silence votes for nothing, and a run of silence alone is no
   stretch; of the stretches found at neighbouring offsets the best-agreeing is kept.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videolearn.apps.kept import Kept, ragged, strings, unragged
from videolearn.config import RecommendSettings
from videolearn.errors import VideoNotFoundError
from videolearn.extractors.fingerprint import ITEM_S, ITEM_WINDOW_S, KIND, SILENCE_ITEM, decode
from videolearn.library import Library
from videolearn.store import Store
from videolearn.types import TimeSpan

# Bits kept of each item for voting: the lowest ones flip most under re-encoding.
KEY_MASK = np.uint32(0xFFFFFFF0)
# Items averaged when judging whether two stretches agree (about 1 s).
SMOOTH_ITEMS = 8
# A key found in more videos than this is a silence or a hum many videos share, and votes
# for nothing; unless it recurs as part of one recording (a song in many videos: at least
# `RECURRING_SHARE` of its items are followed by one same other key), when only every few
# of a query's items vote with it. Dropping those keys too found 46% of the videos
# sharing a song laid under 100 (bench/recommend.py --videos 10000 --songs 100), and
# 33-51% of 200 videos a generated song was laid under at random places.
COMMON_KEY_VIDEOS = 50
RECURRING_SHARE = 0.3
RECURRING_MARGIN = 4
_NONE_AFTER = np.uint32(0xFFFFFFFF)
# Videos' answers from `FingerprintIndex.alike` kept per index (a server's `similar` calls).
ANSWERS_KEPT = 4096
# Where in time an item's sound lies relative to its position: an item sums up the sound
# from its own frame to about 2.5 s later, and a run of agreeing items starts before the
# shared sound does and ends before it ends (measured on excerpts placed at known times;
# `tests/integration/test_sound.py`).
LEAD_S = 0.7
TRAIL_S = 1.4
# Beside quiet sound on both sides (silence, low noise: Chromaprint's normalised chroma is
# near zero there in every file), an item whose window holds any of the shared sound
# agrees, so a run starts almost a whole window early and ends at the shared sound's end.
QUIET_LEAD_S = 2.2
QUIET_TRAIL_S = 0.1
WINDOW_ITEMS = round(ITEM_WINDOW_S / ITEM_S)
# Sound that starts after digital silence starts this long after the last item of
# silence (`SILENCE_ITEM`) begins: its window and one frame more (Chromaprint's chroma filter
# reaches a frame on). Measured on 32 onsets at random times, the first 8 s of jfk.flac,
# Megamind.avi, multilingual.mp3's German half and a generated song: 2.60-2.84 s, mean
# 2.71 (ITEM_WINDOW_S is 2.35).
SILENCE_REACH_S = 2.72
# A run that ends this close to a fingerprint's last item reaches the end of its sound (an
# alignment one item off stops a little short of it).
_END_SLACK_ITEMS = 2


@dataclass(frozen=True)
class Fingerprint:
    """A video's fingerprint items and the time its first item starts at."""

    video_id: str
    start_s: float
    end_s: float  # where the sound it was made from ends
    items: np.ndarray  # (N,) uint32

    def time_of(self, position: float) -> float:
        return self.start_s + position * ITEM_S

    def sounded(self) -> int:
        """How many items sum up the sound alone: those after reach into the silence
        that follows it (`extractors.fingerprint`)."""
        return max(0, math.floor((self.end_s - self.start_s - ITEM_WINDOW_S) / ITEM_S) + 1)

    def sound_items(self) -> np.ndarray:
        return self.items[: self.sounded()]


@dataclass(frozen=True)
class SharedSound:
    """A stretch of sound two videos share: where it lies in each, and how closely the
    two agree there (1.0 every bit, 0.5 chance)."""

    query: TimeSpan
    other: TimeSpan
    agreement: float

    @property
    def duration_s(self) -> float:
        return self.query.duration_s

    def to_json(self) -> dict[str, Any]:
        return {
            "query_start_s": round(self.query.start_s, 2),
            "query_end_s": round(self.query.end_s, 2),
            "start_s": round(self.other.start_s, 2),
            "end_s": round(self.other.end_s, 2),
            "agreement": round(self.agreement, 3),
        }


@dataclass(frozen=True)
class SoundAlike:
    """A video that shares sound with the query, and every stretch they share."""

    video_id: str
    path: str
    shared: tuple[SharedSound, ...]

    @property
    def shared_s(self) -> float:
        return sum(s.duration_s for s in self.shared)

    def describe(self) -> str:
        """ "same audio track, 0:12-0:31" in the other video's time."""
        spans = ", ".join(f"{clock(s.other.start_s)}-{clock(s.other.end_s)}" for s in self.shared)
        return f"same audio track, {spans}"

    def to_json(self) -> dict[str, Any]:
        return {
            "video_id": self.video_id,
            "path": self.path,
            "shared_s": round(self.shared_s, 2),
            "shared": [s.to_json() for s in self.shared],
        }


def clock(seconds: float) -> str:
    """Whole seconds as M:SS, as reasons give times ("0:12")."""
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _popcount(values: np.ndarray) -> np.ndarray:
    return np.asarray(np.bitwise_count(values), np.int32)


def shared_sound(
    query: Fingerprint, other: Fingerprint, offset: int, settings: RecommendSettings
) -> list[SharedSound]:
    """The stretches where `other[i + offset]` sounds like `query[i]`.

    Args:
        offset: positions from the query's items to the other's.
    """
    first = max(0, -offset)
    last = min(len(query.items), len(other.items) - offset)
    if last - first < SMOOTH_ITEMS:
        return []
    a = query.items[first:last]
    b = other.items[first + offset : last + offset]
    kernel = np.ones(SMOOTH_ITEMS) / SMOOTH_ITEMS
    bits = _popcount(a ^ b).astype(np.float32)
    # The items over both sounds (after them, items reach into the window of silence
    # that follows each sound, `extractors.fingerprint`), and of those the ones that say
    # something: not silence in both (silence agrees with silence anywhere: a run of it
    # alone is no shared sound).
    sounded = max(0, min(query.sounded() - first, other.sounded() - first - offset))
    evident = ~((a == SILENCE_ITEM) & (b == SILENCE_ITEM))
    lone = (a == SILENCE_ITEM) != (b == SILENCE_ITEM)  # digital silence in one file only
    evident[sounded:] = False
    smooth = np.convolve(bits, kernel, mode="same")
    limit, contrast = settings.max_differing_bits, settings.min_contrast_bits
    # Only where the two agree this closely for a stretch's length can one be found (most
    # offsets tried agree nowhere: what follows costs ten times this).
    min_items = max(SMOOTH_ITEMS, round(settings.min_shared_s / ITEM_S))
    if not any(end - start >= min_items for start, end in _runs(smooth <= limit)):
        return []
    # Sound whose items lean to one value (noise, hiss) agrees at every offset as well as
    # at this one; a shared recording agrees here and not a few seconds off. By chance:
    # against the other's sound, and against the query's own, a few seconds off.
    # (Only items of the sound itself are compared with: those over the silence after it
    # would agree with any sound's end.)
    chance_other = _chance_bits(a, other.sound_items(), first + offset)
    chance_self = _chance_bits(a, query.sound_items(), first)
    # A stretch is found where the alignment beats either chance (a short one would be
    # lost from one side if both were needed, as the two files' surroundings differ) ...
    either = np.convolve(np.maximum(chance_other, chance_self), kernel, mode="same")
    good = (smooth <= limit) & (either - smooth >= contrast)
    if not good.any():  # most offsets tried: nothing to trim or place
        return []
    # ... and reaches only as far as it beats both, and what the item agrees in with the
    # other's sound anywhere: low noise beside a song agrees with any other low noise, the
    # other's or the query's own, while near a file's end only the shifts landing back in
    # the song are left to compare with (a stretch ran 3.6 s into the noise after a song).
    anywhere = _typical_bits(a, other.sound_items(), first + offset)
    least = np.minimum(np.minimum(chance_other, chance_self), anywhere)
    both = np.convolve(least, kernel, mode="same")
    strict = (smooth <= limit) & (both - smooth >= contrast) & (bits <= limit)
    loose = np.convolve(anywhere, kernel, mode="same") - smooth >= contrast
    found = []
    for run_start, run_end in _runs(good):
        start, end = run_start, run_end
        # The average spills half a window past the shared sound: trim items that differ.
        while start < end and bits[start] > limit:
            start += 1
        while end > start and bits[end - 1] > limit:
            end -= 1
        if evident[start:end].sum() < min_items:  # mostly silence in both
            continue
        # A run from a file's start or to its end has fewer shifts to judge chance by
        # there (a copy cut from a longer one lost 2.3 s of its shared sound): there it
        # is trimmed only where what it agrees in is found anywhere in the other's sound
        # (quiet running on to the file's end), and not at all where both files start
        # (or end) together: copies share their quiet and their noise too.
        slack = _END_SLACK_ITEMS
        starts = (first + start, first + start + offset)
        ends = (len(query.items) - first - end, len(other.items) - first - offset - end)
        first_ok = _trimmed_by(starts, slack, strict, loose)
        last_ok = _trimmed_by(ends, slack, strict, loose)
        if not strict[start:end].any() and (first_ok is not None or last_ok is not None):
            # Nowhere does it beat chance every way: the first items of a file agree
            # with low noise anywhere (a stretch of noise was called the song's start).
            # Files that start and end together (copies) are not judged by chance.
            continue
        if strict[start:end].any():
            while first_ok is not None and not first_ok[start]:
                start += 1
            while last_ok is not None and not last_ok[end - 1]:
                end -= 1
        stretch = a[start:end]
        # A steady tone or a hum agrees with itself at every offset: not a recording.
        if len(np.unique(stretch >> np.uint32(4))) < settings.min_distinct_share * len(stretch):
            continue
        agreement = 1.0 - float(bits[start:end].mean()) / 32.0
        i0, i1 = first + start, first + end - 1
        quiet_before, quiet_after = _quiet_beside(bits, lone, (start, end), limit, sounded)
        lead = QUIET_LEAD_S if quiet_before else LEAD_S
        trail = QUIET_TRAIL_S if quiet_after else TRAIL_S
        query_span = _span(query, i0, i1, lead, trail)
        other_span = _span(other, i0 + offset, i1 + offset, lead, trail)
        # A run that starts or ends in silence both files share went on through it
        # (silence agrees with silence: a song between silences ran on to the files'
        # end, 4.7 s too long); the silence itself says to the item where the sound
        # starts and ends. Both spans move by the same time: their offset holds.
        after_silence = [
            t - span.start_s
            for fp, at, span in ((query, i0, query_span), (other, i0 + offset, other_span))
            if (t := _after_silence(fp, at, at + i1 - i0)) is not None
        ]
        before_silence = [
            t - span.end_s
            for fp, at, span in ((query, i0, query_span), (other, i0 + offset, other_span))
            if (t := _before_silence(fp, at, at + i1 - i0)) is not None
        ]
        start_move = max(after_silence, default=0.0)
        end_move = min(before_silence, default=0.0)
        if query_span.duration_s + end_move - start_move >= settings.min_shared_s / 2:
            query_span = TimeSpan(query_span.start_s + start_move, query_span.end_s + end_move)
            other_span = TimeSpan(other_span.start_s + start_move, other_span.end_s + end_move)
        if min(query_span.duration_s, other_span.duration_s) < settings.min_shared_s / 2:
            continue  # trimmed to the items past a sound's end: nothing of it left
        found.append(SharedSound(query_span, other_span, agreement))
    return found


def _trimmed_by(
    edges: tuple[int, int], slack: int, strict: np.ndarray, loose: np.ndarray
) -> np.ndarray | None:
    """Which test trims a run's end, by how far it lies from each file's edge: none where
    both files reach it, the loose one where one does, else the strict one."""
    if max(edges) <= slack:
        return None
    return loose if min(edges) <= slack else strict


# Offsets (in items, about 2.5-5 s) at which a shared recording no longer agrees with
# itself, on each side: what two sounds agree in there is what they agree in by chance.
CHANCE_SHIFTS = ((-40, -20), (20, 40))


def _chance_bits(a: np.ndarray, b_items: np.ndarray, b_first: int) -> np.ndarray:
    """Per item of `a` (aligned with `b_items[b_first:]`), the bits that differ on average
    from `b` a few seconds off that alignment: the less of the two sides' averages (where
    a stretch runs from a song into the noise beside it, the shifts on the noise side agree
    as well as the alignment does, while those landing in the song do not: their mean let
    stretches run 3-5 s into the noise on either side of a song)."""
    best = np.full(len(a), np.inf, np.float32)
    for shifts in CHANCE_SHIFTS:
        total = np.zeros(len(a), np.float32)
        count = np.zeros(len(a), np.float32)
        for shift in shifts:
            lo = max(0, -(b_first + shift))
            hi = min(len(a), len(b_items) - b_first - shift)
            if hi - lo <= 0:
                continue
            other = b_items[b_first + shift + lo : b_first + shift + hi]
            total[lo:hi] += _popcount(a[lo:hi] ^ other)
            count[lo:hi] += 1
        side = np.where(count > 0, total / np.maximum(count, 1), np.inf)
        best = np.minimum(best, side)
    # Where no shifted item exists, assume agreement by chance alone (16 bits).
    return np.where(np.isfinite(best), best, 16.0).astype(np.float32)


# Items of the other file compared with each of the query's, spread over the file, and the
# quantile of their differing bits taken as what the item agrees in by chance anywhere.
TYPICAL_SAMPLES = 64
TYPICAL_QUANTILE = 0.2


def _typical_bits(a: np.ndarray, b_items: np.ndarray, b_first: int) -> np.ndarray:
    """Per item of `a` (aligned with `b_items[b_first:]`), the bits it differs in from
    items spread over all of `b`, away from the alignment: a low quantile, so that an
    item of quiet sound finds the quiet anywhere in `b` (16 where nothing is far enough)."""
    n = len(b_items)
    sample = np.unique(np.linspace(0, n - 1, min(n, TYPICAL_SAMPLES)).round().astype(np.int64))
    diff = _popcount(a[:, None] ^ b_items[sample][None, :]).astype(np.float32)
    aligned = np.arange(len(a))[:, None] + b_first
    near = np.abs(sample[None, :] - aligned) < CHANCE_SHIFTS[1][0]
    diff[near] = np.inf
    diff.sort(axis=1)
    far = (~near).sum(axis=1)
    at = np.floor(TYPICAL_QUANTILE * np.maximum(far - 1, 0)).astype(np.int64)
    picked = diff[np.arange(len(a)), at] if len(sample) else np.full(len(a), np.inf)
    return np.where(far > 0, picked, 16.0).astype(np.float32)


def _quiet_beside(
    bits: np.ndarray, lone: np.ndarray, run: tuple[int, int], limit: float, sounded: int
) -> tuple[bool, bool]:
    """Whether the sound before and after a run of an alignment's differing bits is
    quiet in both files: it agrees at the alignment a window away from the run (beyond
    the items that hold some of the shared sound, which agree partly whatever lies beside
    it), or, where the files hold no items that far, right beside the run. After the run
    only items over both sounds count (`sounded`): those over the silence after a sound
    agree with any quiet end. Digital silence in one file beside low noise in the other
    is not quiet in both, however close their items come (`lone`): the silent file's
    items over the shared sound's edge hold nothing else, the other's the noise too, and
    they agree only a little before the sound does (a song after silence was placed
    1.1-1.6 s late)."""
    start, end = run
    gap = WINDOW_ITEMS + SMOOTH_ITEMS
    before = slice(max(0, start - gap), max(0, start - WINDOW_ITEMS))
    if before.stop - before.start < SMOOTH_ITEMS // 2:
        before = slice(max(0, start - SMOOTH_ITEMS), start)
    after = slice(end + WINDOW_ITEMS, min(end + gap, sounded))
    if len(bits[after]) < SMOOTH_ITEMS // 2:
        after = slice(end, min(end + SMOOTH_ITEMS, max(sounded, end + 1)))

    def quiet(where: slice) -> bool:
        return bool(len(bits[where]) and bits[where].mean() <= limit and not lone[where].any())

    return quiet(before), quiet(after)


def _after_silence(fp: Fingerprint, first: int, last: int) -> float | None:
    """Where sound starts after digital silence a run of items `first` to `last` starts
    in (both files silent before it: silence agrees with silence), when it does:
    `SILENCE_REACH_S` after the run's last item of that silence (`SILENCE_ITEM`) begins."""
    items = fp.items
    if items[first] != SILENCE_ITEM:
        return None
    at = first
    while at < last and items[at + 1] == SILENCE_ITEM:
        at += 1
    return fp.time_of(at) + SILENCE_REACH_S


def _before_silence(fp: Fingerprint, first: int, last: int) -> float | None:
    """Where sound ends before digital silence a run of items `first` to `last` ends in
    (both files fall silent after it), when it does: where the first item of that
    silence (`SILENCE_ITEM`) begins (measured as for `SILENCE_REACH_S`: sounds ended
    0.13 s before to 0.04 s after it). Items over the silence a fingerprint is padded
    with after its file's end say nothing of the file."""
    items = fp.items
    if last >= len(items) or items[last] != SILENCE_ITEM:
        return None
    at = last
    while at > first and items[at - 1] == SILENCE_ITEM:
        at -= 1
    return fp.time_of(at) if fp.time_of(at) < fp.end_s - ITEM_S else None


def _span(fp: Fingerprint, first: int, last: int, lead_s: float, trail_s: float) -> TimeSpan:
    """Items `first` to `last` of `fp` as the stretch of sound they agree on; a run from
    the first item or to the last reaches the sound's start or end (a run that goes on
    through the items over the silence after the sound reaches its end, which the trail
    constant would cut short)."""
    start_s = fp.time_of(first) + lead_s if first > 0 else fp.start_s
    reaches_end = last >= len(fp.items) - 1 - _END_SLACK_ITEMS
    end_s = fp.end_s if reaches_end else min(fp.time_of(last) + trail_s, fp.end_s)
    return TimeSpan(start_s, max(start_s, end_s))


def _runs(mask: np.ndarray) -> Iterable[tuple[int, int]]:
    """(start, end) of each run of True in a boolean array."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)


def _common_keys(
    keys: np.ndarray, owners: np.ndarray, successors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Of the keys (of postings sorted by key, each with the key of the item after it)
    found in more than `COMMON_KEY_VIDEOS` videos, those that recur as part of one
    recording and the rest, each sorted."""
    distinct = np.unique(keys.astype(np.uint64) << np.uint64(32) | owners.astype(np.uint64))
    found, videos = np.unique((distinct >> np.uint64(32)).astype(np.uint32), return_counts=True)
    common = found[videos > COMMON_KEY_VIDEOS]
    if not len(common):
        return common, common
    held = _sorted_holds(common, keys)
    key, after = keys[held], successors[held]
    pairs, counts = np.unique(
        key.astype(np.uint64) << np.uint64(32) | after.astype(np.uint64), return_counts=True
    )
    row = np.searchsorted(common, (pairs >> np.uint64(32)).astype(np.uint32))
    followed = np.zeros(len(common), np.int64)
    # A key followed by itself is a steady sound, however often.
    other = (pairs & np.uint64(0xFFFFFFFF)).astype(np.uint32) != common[row]
    np.maximum.at(followed, row, np.where(other, counts, 0))
    postings = np.bincount(np.searchsorted(common, key), minlength=len(common))
    recurring = followed >= RECURRING_SHARE * postings
    return common[~recurring], common[recurring]


def _sorted_holds(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Whether each of `values` is in `sorted_values` (np.isin sorts both each call)."""
    at = np.minimum(np.searchsorted(sorted_values, values), max(len(sorted_values) - 1, 0))
    return sorted_values[at] == values if len(sorted_values) else np.zeros(len(values), bool)


# Videos aligned with a query from their own items rather than from the index's postings.
FEW_AMONG = 8


class FingerprintIndex:
    """Every stored fingerprint, and its items as postings sorted by key for voting."""

    def __init__(self, fingerprints: Sequence[Fingerprint]) -> None:
        self.fingerprints = list(fingerprints)
        self.by_id = {fp.video_id: n for n, fp in enumerate(self.fingerprints)}
        sizes = [len(fp.items) for fp in self.fingerprints]
        keys = np.concatenate([fp.items for fp in self.fingerprints] or [np.zeros(0, np.uint32)])
        owners = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
        positions = np.concatenate([np.arange(n, dtype=np.int32) for n in sizes] or [owners])
        keys = keys & KEY_MASK
        # The key of the item after each (none after a fingerprint's last: a value no
        # masked key takes).
        successors = np.append(keys[1:], _NONE_AFTER)
        successors[np.cumsum(sizes, dtype=np.int64)[np.asarray(sizes) > 0] - 1] = _NONE_AFTER
        order = np.argsort(keys, kind="stable")
        self.keys, self.owners, self.positions = keys[order], owners[order], positions[order]
        self.common, self.recurring = _common_keys(self.keys, self.owners, successors[order])
        self._answers()

    def _answers(self) -> None:
        self._lock = threading.Lock()
        self._answered: dict[tuple[str, str, int | None], list[tuple[str, list[SharedSound]]]] = {}

    @classmethod
    def from_store(cls, store: Store) -> FingerprintIndex:
        rows = store.signals_of_kind(KIND)
        return cls([Fingerprint(r.video_id, r.start_s, r.end_s, decode(r.value)) for r in rows])

    def arrays(self) -> dict[str, np.ndarray]:
        """The index as plain arrays (`apps.kept`)."""
        items = ragged([fp.items for fp in self.fingerprints], np.uint32)
        return {
            "video_ids": strings(fp.video_id for fp in self.fingerprints),
            "spans": np.array([(fp.start_s, fp.end_s) for fp in self.fingerprints]).reshape(-1, 2),
            "items": items["joined"],
            "starts": items["starts"],
            "keys": self.keys,
            "owners": self.owners,
            "positions": self.positions,
            "common": self.common,
            "recurring": self.recurring,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> FingerprintIndex:
        out = cls.__new__(cls)
        out.fingerprints = [
            Fingerprint(str(v), float(start), float(end), items)
            for v, (start, end), items in zip(
                arrays["video_ids"],
                arrays["spans"],
                unragged(arrays["items"], arrays["starts"]),
                strict=True,
            )
        ]
        out.by_id = {fp.video_id: n for n, fp in enumerate(out.fingerprints)}
        out.keys, out.owners, out.positions = arrays["keys"], arrays["owners"], arrays["positions"]
        out.common, out.recurring = arrays["common"], arrays["recurring"]
        out._answers()
        return out

    def __len__(self) -> int:
        return len(self.fingerprints)

    def of(self, video_id: str) -> Fingerprint | None:
        """The fingerprint of `video_id` held here (None: none is)."""
        n = self.by_id.get(video_id)
        return None if n is None else self.fingerprints[n]

    def candidates(
        self,
        query: Fingerprint,
        min_votes: int,
        exclude: Iterable[str] = (),
        among: Collection[str] | None = None,
        stride: int = 1,
    ) -> dict[int, list[int]]:
        """Videos (by number; of `among` when given) whose items agree with the query's at
        some offset, and those offsets, most votes first (the videos too, by their best
        offset's). Of the items whose key recurs in many videos, only every `stride`-th
        votes."""
        # Silence (a muted stretch, the window after every fingerprint) and keys found in
        # many videos (but those of a recording many share) vote for nothing.
        keys = query.items & KEY_MASK
        sampled = np.arange(len(keys)) % stride == 0
        voting = (
            (keys != (SILENCE_ITEM & KEY_MASK))
            & ~_sorted_holds(self.common, keys)
            & (sampled | ~_sorted_holds(self.recurring, keys))
        )
        numbers = None if among is None else [self.by_id[v] for v in among if v in self.by_id]
        if numbers is not None and len(numbers) <= FEW_AMONG:
            # A few videos' own items, not every posting of the query's keys (a pair's
            # alignment gathered a hundred videos' postings where a song is in a hundred).
            owner, offset = self._matches_in(keys, voting, numbers)
        else:
            lo = np.searchsorted(self.keys, keys, side="left")
            counts = np.where(voting, np.searchsorted(self.keys, keys, side="right") - lo, 0)
            # Every posting of every voting item, with the item's position in the query.
            q_pos = np.repeat(np.arange(len(keys), dtype=np.int64), counts)
            postings = _run_indices(lo, counts)
            owner = self.owners[postings].astype(np.int64)
            offset = self.positions[postings].astype(np.int64) - q_pos
            if numbers is not None:
                wanted = np.isin(owner, numbers)
                owner, offset = owner[wanted], offset[wanted]
        if not len(owner):
            return {}
        skip = {self.by_id[v] for v in exclude if v in self.by_id}
        best: dict[int, dict[int, int]] = {}
        # Offsets a position apart are the same alignment (the items fall between): votes
        # are counted in bins of two, on two grids a position apart, so that votes split
        # across a bin's edge from one side count together from the other (else A found
        # B and B did not find A).
        for shift in (0, 1):
            coarse = (offset + shift) // 2
            pair = owner * (1 << 32) + (coarse + (1 << 31))
            pairs, votes = np.unique(pair, return_counts=True)
            keep = votes >= min_votes
            for p, n in zip(pairs[keep].tolist(), votes[keep].tolist(), strict=True):
                video = p >> 32
                if video in skip:
                    continue
                at = ((p & 0xFFFFFFFF) - (1 << 31)) * 2 - shift  # the bin's first offset
                votes_at = best.setdefault(video, {})
                votes_at[at] = max(votes_at.get(at, 0), n)
        ranked = sorted(best.items(), key=lambda v: (-max(v[1].values()), v[0]))
        return {
            video: [o for o, _ in sorted(found.items(), key=lambda f: (-f[1], f[0]))]
            for video, found in ranked
        }

    def _matches_in(
        self, keys: np.ndarray, voting: np.ndarray, numbers: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(owner, offset) of every item of the videos `numbers` whose key is a voting
        query item's, as the postings would give them."""
        at = np.flatnonzero(voting)
        owners, offsets = [], []
        for number in numbers:
            theirs = self.fingerprints[number].items & KEY_MASK
            order = np.argsort(theirs, kind="stable")
            ranked = theirs[order]
            lo = np.searchsorted(ranked, keys[at], side="left")
            counts = np.searchsorted(ranked, keys[at], side="right") - lo
            q_pos = np.repeat(at.astype(np.int64), counts)
            o_pos = order[_run_indices(lo, counts)].astype(np.int64)
            owners.append(np.full(len(q_pos), number, np.int64))
            offsets.append(o_pos - q_pos)
        if not owners:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(owners), np.concatenate(offsets)

    def alike(
        self,
        query: Fingerprint,
        settings: RecommendSettings,
        exclude: Iterable[str] = (),
        among: Collection[str] | None = None,
        most: int | None = None,
    ) -> list[tuple[str, list[SharedSound]]]:
        """Videos (of `among` when given: a pair is aligned alone, not the query against
        every video sharing its sound) that share sound with `query`, most shared first,
        each with its stretches; with `most`, of the `most` videos that vote most for it
        (those that hold the most of its sound). A video of the index asked about with
        all others is answered once per index and settings (`similar` asks it for its
        answer and again for the copy rule)."""
        own = self.by_id.get(query.video_id)
        if among is None and own is not None and self.fingerprints[own] is query:
            key = (query.video_id, settings.model_dump_json(), most)
            with self._lock:
                found = self._answered.get(key)
            if found is None:
                found = self._alike(query, settings, None, most=most)
                with self._lock:
                    while len(self._answered) >= ANSWERS_KEPT:
                        self._answered.pop(next(iter(self._answered)))
                    self._answered[key] = found
            skip = set(exclude)
            return [
                (video_id, list(stretches)) for video_id, stretches in found if video_id not in skip
            ]
        return self._alike(query, settings, among, exclude, most)

    def _alike(
        self,
        query: Fingerprint,
        settings: RecommendSettings,
        among: Collection[str] | None,
        exclude: Iterable[str] = (),
        most: int | None = None,
    ) -> list[tuple[str, list[SharedSound]]]:
        found = []
        # A stretch as short as `min_shared_s` holds `min_votes` of the items that vote,
        # `RECURRING_MARGIN` times over: cut elsewhere, a recording's items differ (the
        # frames fall elsewhere), and about half of its keys are not the other's.
        spacing = round(settings.min_shared_s / ITEM_S) // (settings.min_votes * RECURRING_MARGIN)
        stride = max(1, spacing)
        skip = {query.video_id, *exclude}
        candidates = self.candidates(query, settings.min_votes, skip, among, stride)
        for video, offsets in list(candidates.items())[:most]:
            other = self.fingerprints[video]
            tried = [
                s
                for coarse in offsets[: settings.max_offsets]
                for offset in (coarse, coarse + 1)
                for s in shared_sound(query, other, offset, settings)
            ]
            # Of stretches found at neighbouring alignments, the one that agrees best (the
            # first tried was kept: two identical clips were said to share from 0.8 s).
            stretches: list[SharedSound] = []
            for s in sorted(tried, key=lambda s: -s.agreement):
                if not any(_overlap(s.query, t.query) for t in stretches):
                    stretches.append(s)
            if stretches:
                stretches.sort(key=lambda s: s.query.start_s)
                found.append((other.video_id, stretches))
        found.sort(key=lambda f: -sum(s.duration_s for s in f[1]))
        return found


def _run_indices(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The indices of runs of `counts[i]` from `starts[i]`, one run after another."""
    return np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())


def _overlap(a: TimeSpan, b: TimeSpan) -> bool:
    return a.start_s < b.end_s and b.start_s < a.end_s


_indexes = Kept(
    "fingerprints",
    3,
    FingerprintIndex.from_store,
    FingerprintIndex.arrays,
    FingerprintIndex.from_arrays,
)


def sound_index(library: Library) -> FingerprintIndex:
    """Every fingerprint of the library and its postings, built when first asked for and
    again after the library changed (`apps.kept`)."""
    return sound_index_from(library.store, library.settings.library)


def sound_index_from(store: Store, where: Path) -> FingerprintIndex:
    """`sound_index` of the library at `where`, whose store `store` is."""
    return _indexes.get(store, where)


def fingerprint_of(library: Library, video_id: str) -> Fingerprint | None:
    """The stored fingerprint of an indexed video (None when it has no sound)."""
    rows = library.store.signals_of_kind(KIND, [video_id])
    if not rows:
        return None
    return Fingerprint(video_id, rows[0].start_s, rows[0].end_s, decode(rows[0].value))


def sound_alike(library: Library, video: str, limit: int = 20) -> list[SoundAlike]:
    """The videos that share sound with `video` (a path or an id), most shared first.

    Raises:
        VideoNotFoundError: `video` is not indexed.
    """
    row = library.resolve(video)
    query = fingerprint_of(library, row.video_id)
    if query is None:
        return []
    paths = library.store.shown_paths()
    index = sound_index(library)
    found = index.alike(query, library.settings.recommend)
    return [
        SoundAlike(video_id, paths[video_id], tuple(stretches))
        for video_id, stretches in [f for f in found if f[0] in paths][:limit]
    ]


__all__ = [
    "Fingerprint",
    "FingerprintIndex",
    "SharedSound",
    "SoundAlike",
    "VideoNotFoundError",
    "fingerprint_of",
    "shared_sound",
    "sound_alike",
    "sound_index",
    "sound_index_from",
]
