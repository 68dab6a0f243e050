"""Chromaprint fingerprints and how two of them are aligned, on generated songs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.contract import ExtractorContract, run_extractor
from videolearn.apps.sound import Fingerprint, shared_sound
from videolearn.config import RecommendSettings, Settings
from videolearn.extractors.base import ValueSignal
from videolearn.extractors.fingerprint import (
    ITEM_S,
    KIND,
    FingerprintExtractor,
    decode,
    fingerprint,
)
from videolearn.samples import song, sound_effect, write_av

RATE = 16_000
SETTINGS = RecommendSettings()


def _frames(seconds: float, shade: int) -> np.ndarray:
    return np.full((round(seconds * 10), 48, 64, 3), shade, np.uint8)


class TestFingerprintContract(ExtractorContract):
    extractor_class = FingerprintExtractor

    @pytest.fixture(scope="class")
    @classmethod
    def media_file(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        folder = tmp_path_factory.mktemp("contract")
        return write_av(folder / "song.mp4", _frames(8, 40), 10, song(8, seed=1), RATE)


def _print(samples: np.ndarray, video_id: str = "a") -> Fingerprint:
    items = decode(fingerprint(samples))
    return Fingerprint(video_id, 0.0, len(samples) / RATE, items)


def _best(a: Fingerprint, b: Fingerprint, true_offset_s: float) -> list:
    offset = round(true_offset_s / ITEM_S)
    found = []
    for d in (offset - 1, offset, offset + 1):
        found.extend(shared_sound(a, b, d, SETTINGS))
    return found


def test_the_extractor_stores_chromaprints_own_form(tmp_path: Path, settings: Settings) -> None:
    clip = write_av(tmp_path / "song.mp4", _frames(12, 0), 10, song(12, seed=3), RATE)
    _, signals = run_extractor("fingerprint", clip, settings)
    assert len(signals) == 1 and isinstance(signals[0], ValueSignal)
    assert signals[0].kind == KIND
    assert signals[0].span.start_s == pytest.approx(0.0, abs=0.05)
    assert signals[0].span.end_s == pytest.approx(12.0, abs=0.1)
    items = decode(signals[0].value)
    # About one item per 0.124 s: the window of silence after the sound lets the last
    # items sum up its last seconds.
    assert 12 / ITEM_S - 4 <= len(items) <= 12 / ITEM_S + 1
    assert items.dtype == np.uint32 and len(np.unique(items)) > len(items) // 2


def test_a_silent_or_soundless_video_has_no_fingerprint(tmp_path: Path, settings: Settings) -> None:
    quiet = write_av(tmp_path / "quiet.mp4", _frames(1, 0), 10, np.zeros(RATE, np.float32), RATE)
    _, signals = run_extractor("fingerprint", quiet, settings)
    assert signals == []


def test_the_same_recording_agrees_however_it_was_encoded() -> None:
    music = song(20, seed=5)
    quieter = np.asarray(music * 0.4 + np.random.default_rng(0).normal(0, 0.01, music.size))
    a, b = _print(music), _print(quieter.astype(np.float32), "b")
    found = _best(a, b, 0.0)
    assert found and max(s.agreement for s in found) > 0.85
    longest = max(found, key=lambda s: s.duration_s)
    assert longest.duration_s > 16


def test_an_excerpt_is_located_within_a_second_in_both() -> None:
    music = song(30, seed=7)
    host = np.random.default_rng(1).normal(0, 0.02, 60 * RATE).astype(np.float32)
    host[31 * RATE : 41 * RATE] += music[8 * RATE : 18 * RATE]
    a, b = _print(music), _print(host, "b")
    found = _best(a, b, 31 - 8)
    assert found
    for s in found:  # at the offset, and a position either side
        assert abs(s.query.start_s - 8) <= 1 and abs(s.query.end_s - 18) <= 1
        assert abs(s.other.start_s - 31) <= 1 and abs(s.other.end_s - 41) <= 1


def test_a_stretch_that_reaches_the_end_of_a_file_is_located_to_its_end() -> None:
    music = song(30, seed=7)
    host = np.random.default_rng(1).normal(0, 0.02, 60 * RATE).astype(np.float32)
    host[50 * RATE :] += music[20 * RATE :]  # the song's last 10 s end both files
    a, b = _print(music), _print(host, "b")
    found = _best(a, b, 50 - 20)
    assert found
    for s in found:
        assert abs(s.query.start_s - 20) <= 1 and abs(s.query.end_s - 30) <= 1
        assert abs(s.other.start_s - 50) <= 1 and abs(s.other.end_s - 60) <= 1


@pytest.mark.parametrize("seed", range(6))
def test_a_song_laid_anywhere_in_noise_is_located_within_a_second_in_every_video(
    seed: int,
) -> None:
    # Three videos with one song at random places in low noise, as a library holds them:
    # stretches of the noise at a file's start used to be called the song's (4 s off),
    # and songs ending 2-4 s before a file's end ran on 1-2.6 s.
    rng = np.random.default_rng(seed)
    music = song(15, seed=100 + seed % 3)
    prints, starts = [], []
    for video in range(3):
        host = rng.normal(0, 0.02, 30 * RATE).astype(np.float32)
        at = float(rng.uniform(2, 13))
        host[round(at * RATE) : round(at * RATE) + music.size] += music
        prints.append(_print(host, str(video)))
        starts.append(at)
    from videolearn.apps.sound import FingerprintIndex

    index = FingerprintIndex(prints)
    for query in range(3):
        found = dict(index.alike(prints[query], SETTINGS))
        assert sorted(found) == sorted({"0", "1", "2"} - {str(query)})
        for other, stretches in found.items():
            for s in stretches:
                for span, at in ((s.query, starts[query]), (s.other, starts[int(other)])):
                    assert abs(span.start_s - at) <= 1 and abs(span.end_s - at - 15) <= 1


@pytest.mark.parametrize("gap_s", [0.5, 1.5, 2.6, 3.5])
def test_a_song_that_ends_just_before_a_files_end_is_located_to_its_end(gap_s: float) -> None:
    # The last item of a fingerprint sums up the last ~2.5 s of a file: without the
    # silence after it, a song ending 2.6 s before one file's end (noise after it) was
    # said to run to that end.
    music = song(15, seed=62)
    rng = np.random.default_rng(3)
    ends_early = rng.normal(0, 0.02, 30 * RATE).astype(np.float32)
    at = 30 - gap_s - 15
    ends_early[round(at * RATE) : round(at * RATE) + music.size] += music
    middle = rng.normal(0, 0.02, 30 * RATE).astype(np.float32)
    middle[5 * RATE : 20 * RATE] += music
    from videolearn.apps.sound import FingerprintIndex

    prints = [_print(ends_early, "a"), _print(middle, "b")]
    for query, other, starts in ((0, "b", (at, 5)), (1, "a", (5, at))):
        ((found, stretches),) = FingerprintIndex(prints).alike(prints[query], SETTINGS)
        assert found == other
        for s in stretches:
            assert (
                abs(s.query.start_s - starts[0]) <= 1 and abs(s.query.end_s - starts[0] - 15) <= 1
            )
            assert (
                abs(s.other.start_s - starts[1]) <= 1 and abs(s.other.end_s - starts[1] - 15) <= 1
            )


@pytest.mark.parametrize("level", [0.01, 0.05])
def test_a_song_between_quiet_stretches_is_located_within_a_second_in_both(level: float) -> None:
    # Beside quiet sound in both files an item agrees as soon as its window holds any of
    # the song: stretches used to start 1.4 s early and end 1.3 s late, or run on through
    # the quiet to a file's end.
    music = song(12, seed=61)
    rng = np.random.default_rng(7)
    prints, starts = [], []
    for video_id in ("a", "b"):
        host = rng.normal(0, level, 30 * RATE).astype(np.float32)
        at = float(rng.uniform(2, 14))
        host[round(at * RATE) : round(at * RATE) + music.size] += music
        prints.append(_print(host, video_id))
        starts.append(at)
    from videolearn.apps.sound import FingerprintIndex

    ((other, stretches),) = FingerprintIndex(prints).alike(prints[0], SETTINGS)
    assert other == "b"
    for s in stretches:
        assert abs(s.query.start_s - starts[0]) <= 1 and abs(s.query.end_s - starts[0] - 12) <= 1
        assert abs(s.other.start_s - starts[1]) <= 1 and abs(s.other.end_s - starts[1] - 12) <= 1


def test_a_song_between_digital_silences_ends_where_the_silence_starts() -> None:
    # Silence agrees with silence: the stretch ran on through the silence both files
    # share after the song to their end (4.7 s too long).
    music = song(12, seed=72)
    prints, starts = [], []
    for video_id, at in (("a", 13.27), ("b", 13.31)):
        host = np.zeros(30 * RATE, np.float32)
        host[round(at * RATE) : round(at * RATE) + music.size] += music
        prints.append(_print(host, video_id))
        starts.append(at)
    from videolearn.apps.sound import FingerprintIndex

    ((_, (stretch,)),) = FingerprintIndex(prints).alike(prints[0], SETTINGS)
    for span, start in ((stretch.query, starts[0]), (stretch.other, starts[1])):
        assert abs(span.start_s - start) <= 1 and abs(span.end_s - start - 12) <= 0.3


def test_a_song_after_silence_in_one_file_and_noise_in_the_other_starts_where_it_does() -> None:
    # Digital silence beside low noise: their items came within the bits allowed, so the
    # stretch was placed as beside quiet in both and started 1.1-1.6 s late.
    music = song(12, seed=70)
    at = 16.5
    quiet = np.zeros(30 * RATE, np.float32)
    quiet[round(at * RATE) : round(at * RATE) + music.size] += music
    noisy = np.random.default_rng(0).normal(0, 0.02, 30 * RATE).astype(np.float32)
    noisy[8 * RATE : 20 * RATE] += music
    from videolearn.apps.sound import FingerprintIndex

    prints = [_print(quiet, "a"), _print(noisy, "b")]
    for query, starts in ((0, (at, 8.0)), (1, (8.0, at))):
        ((_, stretches),) = FingerprintIndex(prints).alike(prints[query], SETTINGS)
        for s in stretches:
            assert abs(s.query.start_s - starts[0]) <= 0.5
            assert abs(s.other.start_s - starts[1]) <= 0.5
            assert abs(s.query.end_s - starts[0] - 12) <= 1


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (song(20, seed=1), song(20, seed=2)),  # two songs
        (sound_effect("noise", 20, seed=1), sound_effect("noise", 20, seed=2)),  # hiss
        (sound_effect("phone", 20), sound_effect("phone", 20)),  # a tone
    ],
    ids=["songs", "noise", "tone"],
)
def test_different_or_featureless_sound_shares_nothing(
    first: np.ndarray, second: np.ndarray
) -> None:
    a, b = _print(first), _print(second, "b")
    for offset in range(-40, 41, 2):
        assert shared_sound(a, b, offset, SETTINGS) == []


def test_a_value_that_is_no_fingerprint_is_refused() -> None:
    assert decode("").size == 0
    with pytest.raises(ValueError, match="not a Chromaprint fingerprint"):
        decode("nonsense!")


def test_sharing_is_found_from_either_side_wherever_the_items_fall() -> None:
    from videolearn.apps.sound import FingerprintIndex

    # Short shared stretches at starts a quarter item apart: their few votes split across
    # two offsets, which used to be found from one side only (4 of these 48 cases).
    for seed in (1, 2):
        music = song(30, seed=20 + seed)
        noise = np.random.default_rng(seed)
        for length_s in (3.5, 4.0, 5.0):
            for k in range(8):
                host = noise.normal(0, 0.05, 40 * RATE).astype(np.float32)
                at, n = round((20.0 + 0.031 * k) * RATE), round(length_s * RATE)
                host[at : at + n] += music[5 * RATE : 5 * RATE + n]
                a, b = _print(music, "a"), _print(host, "b")
                index = FingerprintIndex([a, b])
                ab = [v for v, _ in index.alike(a, SETTINGS)]
                ba = [v for v, _ in index.alike(b, SETTINGS)]
                assert (ab == ["b"]) == (ba == ["a"]), (seed, length_s, k)


@pytest.mark.parametrize("seconds", [6.0, 10.0, 20.0])
def test_two_copies_of_one_clip_share_one_stretch_the_whole_clip(seconds: float) -> None:
    # The alignments a position either side of the right one used to add stretches of
    # no length past the clip's end.
    music = song(seconds, seed=9)
    quieter = (music * 0.5).astype(np.float32)
    a, b = _print(music), _print(quieter, "b")
    from videolearn.apps.sound import FingerprintIndex

    ((other, stretches),) = FingerprintIndex([a, b]).alike(a, SETTINGS)
    assert other == "b" and len(stretches) == 1
    (s,) = stretches
    assert s.query.start_s == 0 and s.query.end_s == pytest.approx(seconds)
    assert s.other.start_s == 0 and s.other.end_s == pytest.approx(seconds)


def test_a_pair_aligned_alone_shares_what_the_whole_index_says_of_it() -> None:
    # The copy rule aligns a pair alone (a song in a hundred videos made each ask align
    # one fingerprint with all of them): the pair's stretches must be the ones found
    # asking the whole index, and a video that shares nothing stays apart.
    from videolearn.apps.sound import FingerprintIndex

    rng = np.random.default_rng(3)
    music = song(12, seed=7)
    prints = []
    for video in range(5):
        host = rng.normal(0, 0.02, 25 * RATE).astype(np.float32)
        if video < 4:
            at = round(float(rng.uniform(1, 12)) * RATE)
            host[at : at + music.size] += music
        prints.append(_print(host, str(video)))
    index = FingerprintIndex(prints)
    everyone = dict(index.alike(prints[0], SETTINGS))
    assert sorted(everyone) == ["1", "2", "3"]
    for other in ("1", "2", "3", "4"):
        alone = dict(index.alike(prints[0], SETTINGS, among=[other]))
        assert list(alone) == ([other] if other in everyone else [])
        if other in everyone:
            assert alone[other] == everyone[other]
    # Asked again, the index answers as before, and leaves out what it is told to.
    assert dict(index.alike(prints[0], SETTINGS)) == everyone
    assert sorted(dict(index.alike(prints[0], SETTINGS, exclude=["2"]))) == ["1", "3"]


def test_a_song_under_more_videos_than_a_common_key_is_found_in_every_one() -> None:
    # A key in many videos is a hum or a silence they share, and votes for nothing,
    # unless it recurs as part of one recording: a song laid at random places under
    # three times as many videos as that (a sound many use) is found in every one of
    # them, where 33-51% of them were found; a steady hum under as many still shares
    # nothing.
    from videolearn.apps.sound import COMMON_KEY_VIDEOS, FingerprintIndex

    rng = np.random.default_rng(5)
    music = song(12, seed=11)
    hum = 0.3 * np.sin(2 * np.pi * 220 * np.arange(20 * RATE) / RATE).astype(np.float32)
    prints = []
    for video in range(3 * COMMON_KEY_VIDEOS):
        host = rng.normal(0, 0.02, 20 * RATE).astype(np.float32)
        at = round(float(rng.uniform(0.5, 7.5)) * RATE)
        host[at : at + music.size] += music
        prints.append(_print(host, f"song-{video:03d}"))
        noisy = hum + rng.normal(0, 0.02, hum.size).astype(np.float32)
        prints.append(_print(noisy, f"hum-{video:03d}"))
    index = FingerprintIndex(prints)
    singing = [p for p in prints if p.video_id.startswith("song")]
    for query in singing[:6]:
        found = dict(index.alike(query, SETTINGS))
        assert set(found) == {p.video_id for p in singing} - {query.video_id}
    humming = [p for p in prints if p.video_id.startswith("hum")]
    assert not any(index.alike(p, SETTINGS) for p in humming[:6])
    # A pair aligned alone (from the two videos' own items) says what the index says.
    found = dict(index.alike(singing[0], SETTINGS))
    for other in [*singing[1:6], *humming[:2]]:
        alone = dict(index.alike(singing[0], SETTINGS, among=[other.video_id]))
        assert alone == {k: v for k, v in found.items() if k == other.video_id}


def test_asked_for_the_few_most_alike_the_index_aligns_those_holding_most_of_the_sound() -> None:
    # `similar` weighs the shared sound of `recommend.sound_candidates` videos at most:
    # they must be the ones holding the most of the query's sound, as aligning all of
    # them would rank them.
    from videolearn.apps.sound import FingerprintIndex

    rng = np.random.default_rng(8)
    music = song(12, seed=13)
    prints = [_print(np.concatenate([music, np.zeros(4 * RATE, np.float32)]), "whole")]
    for held in range(4, 12):  # video k holds the song's first k seconds
        host = rng.normal(0, 0.02, 20 * RATE).astype(np.float32)
        at = round(float(rng.uniform(0.5, 4)) * RATE)
        host[at : at + held * RATE] += music[: held * RATE]
        prints.append(_print(host, f"holds-{held:02d}"))
    index = FingerprintIndex(prints)
    everyone = index.alike(prints[0], SETTINGS)
    assert len(everyone) == 8
    # Votes follow how much is held, not to the second: the four voting most are of the
    # five holding most, each aligned as when all are.
    few = dict(index.alike(prints[0], SETTINGS, most=4))
    assert len(few) == 4
    assert set(few) <= {f"holds-{held:02d}" for held in range(7, 12)}
    assert all(few[v] == stretches for v, stretches in everyone if v in few)
