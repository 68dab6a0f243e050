"""Sound events with the bundled YAMNet, on real speech and generated sounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.contract import ExtractorContract, run_extractor
from videolearn.config import Settings, load_settings
from videolearn.extractors.audio import log_mel, mel_filters
from videolearn.extractors.base import Moment
from videolearn.extractors.sounds import (
    PATCH_HOP_SAMPLES,
    PATCH_SAMPLES,
    SoundClass,
    SoundsExtractor,
    SoundStream,
    YamNet,
    merge_events,
)
from videolearn.samples import sound_effect, speak, write_wav

RATE = 16_000


class TestSoundsContract(ExtractorContract):
    extractor_class = SoundsExtractor


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(tmp_path_factory.mktemp("lib") / "library")


@pytest.fixture(scope="module")
def yamnet(settings: Settings) -> YamNet:
    model = YamNet(settings.model_cache_dir)
    model.load()
    return model


def _sounds(path: Path, settings: Settings) -> list[Moment]:
    _, found = run_extractor("sounds", path, settings)
    assert all(isinstance(m, Moment) and m.modality == "sound" for m in found)
    return found  # type: ignore[return-value]


def test_front_end_matches_the_filter_bank_and_frames() -> None:
    filters = mel_filters(mels=64, f_min_hz=125.0, f_max_hz=7500.0)
    assert filters.shape == (64, 257) and (filters.sum(axis=1) > 0).all()
    t = np.arange(RATE) / RATE
    mel = log_mel(np.sin(2 * np.pi * 1000 * t).astype(np.float32), filters)
    assert mel.shape == (1 + (RATE - 512) // 160, 64)
    # 1 kHz sits in the band whose centre is nearest 1 kHz on the HTK mel scale.
    low, high = (2595 * np.log10(1 + hz / 700) for hz in (125, 7500))
    centres = 700 * (10 ** (np.linspace(low, high, 66)[1:-1] / 2595) - 1)
    assert abs(int(mel.mean(0).argmax()) - int(np.abs(centres - 1000).argmin())) <= 1
    assert log_mel(np.zeros(100, np.float32), filters).shape == (0, 64)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("music", {"Music"}),
        ("phone", {"Telephone", "Telephone bell ringing", "Ringtone", "Dial tone"}),
        ("beeps", {"Beep, bleep"}),
        ("noise", {"White noise", "Noise", "Static"}),
    ],
)
def test_generated_sounds_get_their_classes(
    kind: str, expected: set[str], tmp_path: Path, settings: Settings
) -> None:
    path = write_wav(tmp_path / f"{kind}.wav", sound_effect(kind, 6.0), RATE)
    found = _sounds(path, settings)
    labels = {m.label for m in found}
    assert labels & expected, f"{kind}: heard {sorted(labels)}"
    best = max((m for m in found if m.label in expected), key=lambda m: m.span.duration_s)
    assert best.span.duration_s >= 3.0  # one moment over the sound, not a scatter
    assert "Speech" not in labels


def test_speech_is_tagged_speech_in_any_language(
    tmp_path: Path, settings: Settings, shared_data: Path
) -> None:
    files = [
        shared_data / "speech" / "jfk.flac",
        speak(tmp_path / "de.wav", "Der schnelle braune Fuchs springt über den faulen Hund."),
    ]
    for path in files:
        speech = [m for m in _sounds(path, settings) if m.label == "Speech"]
        assert speech, f"{path.name}: no Speech"
        assert speech[0].span.start_s < 1.0 and max(m.score for m in speech) > 0.9


def test_silence_gives_no_moment_and_is_ignored_by_default(
    tmp_path: Path, settings: Settings
) -> None:
    path = write_wav(tmp_path / "quiet.wav", sound_effect("silence", 4.0), RATE)
    assert _sounds(path, settings) == []
    loud = load_settings(settings.library, sounds={"ignore": ()})
    assert {m.label for m in _sounds(path, loud)} == {"Silence"}


def test_streaming_gives_the_whole_files_scores(yamnet: YamNet) -> None:
    audio = np.concatenate([sound_effect("music", 3.3), sound_effect("beeps", 2.9)])
    whole = SoundStream(yamnet)
    whole.add(audio, 0.0)
    whole.finish()
    pieces = SoundStream(yamnet)
    for start in range(0, audio.size, 7_001):  # pieces that do not line up with patches
        pieces.add(audio[start : start + 7_001], 1.5 + start / RATE)
    pieces.finish()
    assert np.array_equal(np.concatenate(whole.scores), np.concatenate(pieces.scores))
    assert np.allclose(np.array(pieces.starts_s) - 1.5, whole.starts_s)
    # Patches every 0.48 s, and the tail past the last full patch is scored too.
    n = len(whole.starts_s)
    assert n == (audio.size - PATCH_SAMPLES) // PATCH_HOP_SAMPLES + 2
    assert whole.starts_s[-1] + PATCH_SAMPLES / RATE >= audio.size / RATE


def test_short_audio_is_padded_to_one_patch(yamnet: YamNet) -> None:
    stream = SoundStream(yamnet)
    stream.add(sound_effect("beeps", 0.4), 2.0)
    stream.finish()
    assert stream.starts_s == [2.0] and np.concatenate(stream.scores).shape == (1, 521)


def test_merge_events_joins_consecutive_patches() -> None:
    classes = [
        SoundClass(0, "/m/a", "Dog"),
        SoundClass(1, "/m/b", "Bark"),
        SoundClass(2, "/m/c", "Silence"),
    ]
    scores = np.array(
        [[0.9, 0.1, 0.0], [0.8, 0.6, 0.0], [0.2, 0.7, 0.0], [0.95, 0.1, 0.99]], np.float32
    )
    starts = np.arange(4) * 0.48
    found = merge_events(scores, starts, classes, threshold=0.5, top_k=2, ignore=("Silence",))
    assert [(m.label, m.span.start_s, m.span.end_s, m.score) for m in found] == [
        ("Dog", 0.0, 1.44, 0.9),
        ("Bark", 0.48, 1.92, 0.7),
        ("Dog", 1.44, 2.4, 0.95),
    ]
    assert found[0].attrs == {"class_index": 0, "mid": "/m/a"}
    only_best = merge_events(scores, starts, classes, threshold=0.5, top_k=1)
    assert [m.label for m in only_best] == ["Dog", "Bark", "Silence"]


def test_a_class_one_patch_alone_finds_needs_the_lone_threshold() -> None:
    classes = [SoundClass(0, "/m/a", "Explosion"), SoundClass(1, "/m/b", "Engine")]
    # Explosion in one patch at 0.5 and in another at 0.7; Engine in two patches in a row.
    scores = np.array([[0.5, 0.1], [0.1, 0.4], [0.2, 0.4], [0.7, 0.1]], np.float32)
    starts = np.arange(4) * 0.48
    found = merge_events(scores, starts, classes, threshold=0.3, top_k=1, lone_threshold=0.6)
    assert [(m.label, m.span.start_s, m.score) for m in found] == [
        ("Engine", 0.48, 0.4),
        ("Explosion", 1.44, 0.7),
    ]


def test_hiss_gets_no_sound_label_and_a_short_ring_keeps_its_own(
    tmp_path: Path, settings: Settings, shared_data: Path
) -> None:
    # box.mp4's sound is a steady hiss; YAMNet's guesses at it each come from one patch.
    assert _sounds(shared_data / "video" / "box.mp4", settings) == []
    guesses = load_settings(settings.library, sounds={"lone_threshold": 0.3})
    assert {"Explosion", "Fart"} <= {
        m.label for m in _sounds(shared_data / "video" / "box.mp4", guesses)
    }
    audio = np.zeros(3 * RATE, np.float32)
    ring = sound_effect("phone", 0.7)
    audio[RATE : RATE + ring.size] = ring
    found = _sounds(write_wav(tmp_path / "ring.wav", audio, RATE), settings)
    assert "Telephone" in {m.label for m in found}
