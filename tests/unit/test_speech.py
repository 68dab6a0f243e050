"""Speech recognition on real and generated speech, with the bundled Whisper base model."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from tests.contract import ExtractorContract
from videolearn.apps import catalog
from videolearn.apps.transcribe import (
    MAX_CUE_S,
    MAX_LINE_CHARS,
    build_cues,
    render,
    transcribe_file,
)
from videolearn.config import Settings, SpeechSettings, load_settings
from videolearn.errors import ExtractorError
from videolearn.extractors.speech import (
    BUNDLED_MODEL_BYTES,
    SpeechExtractor,
    SpeechStream,
    Transcriber,
    Word,
    bundled_model_dir,
    cut_repetitions,
)
from videolearn.samples import (
    SPOKEN_PASSAGES,
    read_audio,
    speak,
    word_error_rate,
    words_of,
    write_tone,
    write_video,
    write_wav,
)

JFK = (
    "and so my fellow americans ask not what your country can do for you "
    "ask what you can do for your country"
)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(tmp_path_factory.mktemp("lib") / "library")


@pytest.fixture(scope="module")
def transcriber(settings: Settings) -> Transcriber:
    t = Transcriber(settings.speech, settings.model_cache_dir)
    t.load()
    return t


class TestSpeechContract(ExtractorContract):
    extractor_class = SpeechExtractor

    @pytest.fixture(scope="class")
    @classmethod
    def media_file(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        folder = tmp_path_factory.mktemp("speech")
        return speak(folder / "said.wav", "Seven ships sailed across the quiet harbour at dawn.")


def test_jfk_exact_text_and_language(shared_data: Path, settings: Settings, transcriber) -> None:
    transcript = transcribe_file(shared_data / "speech" / "jfk.flac", settings, transcriber)
    text = " ".join(s.text for s in transcript.segments)
    assert words_of(text) == words_of(JFK)
    assert transcript.language == "en"
    assert abs(transcript.duration_s - 11.0) < 0.1
    words = [w for s in transcript.segments for w in s.words]
    assert len(words) == len(words_of(JFK))
    assert all(a.start_s <= a.end_s <= b.start_s + 1e-6 for a, b in itertools.pairwise(words))


def _read_pcm(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as src:
        rate = src.streams.audio[0].codec_context.sample_rate
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in src.decode(audio=0)])
    return samples.astype(np.float64) / 32768, rate


def test_word_timestamps_within_a_third_of_a_second_of_speech(
    tmp_path: Path, settings: Settings, transcriber
) -> None:
    # Two sentences with known silence around them: each first word must start where the
    # sound starts, each last word end where it ends.
    first, rate = _read_pcm(
        speak(tmp_path / "a.wav", "The quick brown fox jumps over the lazy dog.")
    )
    second, _ = _read_pcm(
        speak(tmp_path / "b.wav", "Seven ships sailed across the quiet harbour at dawn.")
    )
    lead, gap = np.zeros(rate), np.zeros(3 * rate)
    write_wav(tmp_path / "two.wav", np.concatenate([lead, first, gap, second]), rate)

    def sounding(signal: np.ndarray, offset: int) -> tuple[float, float]:
        loud = np.flatnonzero(np.abs(signal) > 0.005)
        return (offset + loud[0]) / rate, (offset + loud[-1]) / rate

    truth = [sounding(first, rate), sounding(second, rate + first.size + gap.size)]
    transcript = transcribe_file(tmp_path / "two.wav", settings, transcriber)
    assert len(transcript.segments) == 2
    for segment, (onset_s, offset_s) in zip(transcript.segments, truth, strict=True):
        assert abs(segment.words[0].start_s - onset_s) < 0.3
        assert abs(segment.words[-1].end_s - offset_s) < 0.3
        for word in segment.words:
            assert onset_s - 0.3 <= word.start_s <= word.end_s <= offset_s + 0.3


def test_multilingual_gives_both_parts_with_their_language(
    shared_data: Path, settings: Settings, transcriber
) -> None:
    transcript = transcribe_file(shared_data / "speech" / "multilingual.mp3", settings, transcriber)
    english = " ".join(s.text for s in transcript.segments if s.language == "en")
    german = " ".join(s.text for s in transcript.segments if s.language == "de")
    assert "permission is hereby granted" in english.lower()
    assert "software" in german.lower() and "recht" in german.lower()
    ends_en = max(s.span.end_s for s in transcript.segments if s.language == "en")
    starts_de = min(s.span.start_s for s in transcript.segments if s.language == "de")
    assert ends_en < starts_de  # English first, then German


@pytest.mark.parametrize("kind", ["silence", "tone", "noise", "music"])
def test_no_text_without_speech(kind: str, transcriber) -> None:
    rate, seconds = 16000, 20
    t = np.arange(rate * seconds) / rate
    rng = np.random.default_rng(7)
    audio = {
        "silence": np.zeros_like(t),
        "tone": 0.3 * np.sin(2 * np.pi * 440 * t),
        "noise": 0.1 * rng.standard_normal(t.size),
        # Chords changing every half second, with a beat: music without words.
        "music": sum(
            0.1 * np.sin(2 * np.pi * f * (1 + 0.5 * (np.floor(t * 2) % 4)) * t)
            for f in (220.0, 277.2, 329.6)
        )
        * (0.6 + 0.4 * (np.sin(2 * np.pi * 2 * t) > 0)),
    }[kind]
    assert transcriber.transcribe(np.asarray(audio, dtype=np.float32)) == []


def test_espeak_languages_word_error_rate(tmp_path: Path, settings: Settings, transcriber) -> None:
    rates = {}
    for voice, text in SPOKEN_PASSAGES.items():
        transcript = transcribe_file(
            speak(tmp_path / f"{voice}.wav", text, voice), settings, transcriber
        )
        said = " ".join(s.text for s in transcript.segments)
        rates[voice] = word_error_rate(text, said)
        assert {s.language for s in transcript.segments} == {voice}, (voice, said)
    print(f"espeak-ng word error rates: {json.dumps(rates)}")
    # Measured with Whisper base on espeak-ng's voices: en 0.00, de 0.25, es 0.44, fr 0.58.
    assert rates["en"] < 0.15 and rates["de"] < 0.35


TRAIN_FR = (
    "Le train pour la ville part de la gare à huit heures. Nous avons acheté deux billets et "
    "trouvé nos places près de la fenêtre."
)


def test_the_librarys_languages_decide_what_a_stretch_is_heard_as(
    tmp_path: Path, settings: Settings, transcriber
) -> None:
    path = speak(tmp_path / "train-fr.wav", TRAIN_FR, "fr")
    free = transcribe_file(path, settings, transcriber)
    among = Transcriber(
        SpeechSettings(languages=("en", "de", "es", "fr")), settings.model_cache_dir
    )
    limited = transcribe_file(path, settings, among)
    assert {s.language for s in limited.segments} == {"fr"}
    heard = [" ".join(s.text for s in t.segments) for t in (free, limited)]
    # Whisper base takes espeak-ng's French here for Romanian (WER 0.96); as French, 0.60.
    assert word_error_rate(TRAIN_FR, heard[1]) < word_error_rate(TRAIN_FR, heard[0])
    with pytest.raises(ExtractorError, match="'xx'"):
        Transcriber(SpeechSettings(languages=("fr", "xx")), settings.model_cache_dir).load()


def test_a_stretch_whisper_is_unsure_of_is_heard_in_the_files_language(
    tmp_path: Path, settings: Settings, transcriber
) -> None:
    said = read_audio(speak(tmp_path / "es.wav", SPOKEN_PASSAGES["es"], "es"))
    hola = read_audio(speak(tmp_path / "hola.wav", "Hola.", "es"))
    # 25 s apart: "Hola." is a chunk of its own, whose language Whisper hardly knows.
    gap = np.zeros(25 * 16_000, np.float32)
    path = write_wav(tmp_path / "both.wav", np.concatenate([said, gap, hola]), 16_000)
    last = transcribe_file(path, settings, transcriber).segments[-1]
    assert last.language == "es" and "hola" in last.text.lower(), last
    assert last.language_probability < settings.speech.language_sure
    # Left to Whisper alone (every guess taken as sure), it is heard as another language.
    alone = Transcriber(SpeechSettings(language_sure=0.01), settings.model_cache_dir)
    assert transcribe_file(path, settings, alone).segments[-1].language != "es"


def test_repetition_loops_are_cut() -> None:
    said = ["to", "modify,", "to", "modify,", "to", "modify,", "to", "modify,", "to", "sell"]
    words = [Word(i * 0.1, i * 0.1 + 0.1, " " + w, 0.9) for i, w in enumerate(said)]
    kept = "".join(" " + w.word for w in cut_repetitions(words)).split()
    assert kept == ["to", "modify,", "to", "modify,", "to", "sell"]


def test_bundled_model_is_joined_once_and_checked(tmp_path: Path) -> None:
    model_dir = bundled_model_dir(tmp_path)
    model = model_dir / "model.bin"
    assert model.stat().st_size == BUNDLED_MODEL_BYTES
    stamp = model.stat().st_mtime_ns
    assert bundled_model_dir(tmp_path) == model_dir and model.stat().st_mtime_ns == stamp
    with model.open("r+b") as f:  # a damaged cache is joined again
        f.truncate(1000)
    bundled_model_dir(tmp_path)
    assert model.stat().st_size == BUNDLED_MODEL_BYTES
    assert not list(model_dir.glob("*.partial"))


def test_subtitle_cues_keep_the_limits(shared_data: Path, settings: Settings, transcriber) -> None:
    transcript = transcribe_file(shared_data / "speech" / "multilingual.mp3", settings, transcriber)
    cues = build_cues(transcript.segments)
    assert len(cues) >= 8
    for a, b in itertools.pairwise(cues):
        assert a.end_s <= b.start_s
    for cue in cues:
        assert 0 < cue.end_s - cue.start_s <= MAX_CUE_S + 0.01
        assert 1 <= len(cue.lines) <= 2
        assert all(0 < len(line) <= MAX_LINE_CHARS for line in cue.lines)
    srt = render(transcript, "srt")
    blocks = srt.strip().split("\n\n")
    assert len(blocks) == len(cues)
    number, timing, *lines = blocks[0].split("\n")
    assert number == "1" and 1 <= len(lines) <= 2
    assert re.fullmatch(r"00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}", timing)
    vtt = render(transcript, "vtt")
    assert vtt.startswith("WEBVTT\n\n00:00:")
    assert vtt.count(" --> ") == len(cues)
    spoken = " ".join(" ".join(c.lines) for c in cues)
    assert words_of(spoken) == words_of(" ".join(s.text for s in transcript.segments))


def test_transcribe_command_json_contract(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "jfk.json"
    proc = subprocess.run(
        [sys.executable, "-m", "videolearn", "transcribe", str(shared_data / "speech" / "jfk.flac"),
         "--format", "json", "-o", str(out), "--library", str(tmp_path / "none")],
        capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert set(doc) == {"language", "duration_s", "segments"}
    segment = doc["segments"][0]
    assert {"start_s", "end_s", "text", "language", "words"} <= set(segment)
    assert set(segment["words"][0]) == {"start_s", "end_s", "word", "probability"}
    bad = subprocess.run(
        [sys.executable, "-m", "videolearn", "transcribe", str(out), "--format", "srt"],
        capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert bad.returncode == 1 and "not a media file" in bad.stderr


def test_index_stores_speech_moments_found_by_text(shared_data: Path, tmp_path: Path) -> None:
    from videolearn.library import open_library

    media = tmp_path / "media"
    media.mkdir()
    (media / "jfk.flac").write_bytes((shared_data / "speech" / "jfk.flac").read_bytes())
    write_video(media / "clip.mp4", [((200, 0, 0), 2.0)])  # a tone, no speech
    write_tone(media / "beep.flac", 2.0)
    with open_library(tmp_path / "lib", create=True) as lib:
        assert {r.status for r in lib.index([media])} == {"indexed"}
        speech = [
            m for m in catalog.show(lib, str(media / "jfk.flac")).moments if m.modality == "speech"
        ]
        assert words_of(" ".join(m.text for m in speech)) == words_of(JFK)
        assert speech[0].attrs["language"] == "en" and speech[0].attrs["words"]
        clip = catalog.show(lib, str(media / "clip.mp4")).moments
        assert not [m for m in clip if m.modality == "speech"]
        hits = lib.store.search_text("fellow Americans")
        assert hits and hits[0].video_id == lib.resolve(str(media / "jfk.flac")).video_id


def test_a_model_folder_and_an_unknown_hub_name(tmp_path: Path, settings: Settings) -> None:
    folder = tmp_path / "my-whisper"
    shutil.copytree(bundled_model_dir(settings.model_cache_dir), folder)
    mine = Transcriber(load_settings(tmp_path, speech={"model": str(folder)}).speech, tmp_path)
    said = mine.transcribe(_read_pcm_16k(speak(tmp_path / "s.wav", SPOKEN_PASSAGES["en"])))
    assert "going to the park" in " ".join(s.text for s in said).lower()
    unknown = load_settings(tmp_path, speech={"model": "someone/whisper-nowhere"}).speech
    with pytest.raises(ExtractorError, match="never downloads models"):
        Transcriber(unknown, tmp_path).load()
    (folder / "model.bin").unlink()
    with pytest.raises(ExtractorError, match="not a CTranslate2 model directory"):
        Transcriber(load_settings(tmp_path, speech={"model": str(folder)}).speech, tmp_path).load()


def _read_pcm_16k(path: Path) -> np.ndarray:
    from faster_whisper import decode_audio

    return np.asarray(decode_audio(str(path)), dtype=np.float32)


def test_long_audio_streams_in_bounded_memory(
    shared_data: Path, tmp_path: Path, transcriber: Transcriber
) -> None:
    # JFK and a generated passage, four times each with pauses (~100 s), fed 2 s at a
    # time to a stream that may hold 30 s.
    jfk = _read_pcm_16k(shared_data / "speech" / "jfk.flac")
    park = _read_pcm_16k(speak(tmp_path / "park.wav", SPOKEN_PASSAGES["en"]))
    pause = np.zeros(2 * 16000, dtype=np.float32)
    pieces, jfk_starts_s, at = [], [], 0
    for _ in range(4):
        jfk_starts_s.append(at / 16000)
        pieces += [jfk, pause, park, pause]
        at += jfk.size + park.size + 2 * pause.size
    audio = np.concatenate(pieces)
    alone = [w for s in transcriber.transcribe(jfk) for w in s.words if "fellow" in w.word]
    speech = load_settings(tmp_path, speech={"window_s": 30.0}).speech
    stream = SpeechStream(Transcriber(speech, load_settings(tmp_path).model_cache_dir))
    segments, most_held = [], 0
    for start in range(0, audio.size, 32000):
        segments += stream.add(audio[start : start + 32000], start / 16000)
        most_held = max(most_held, sum(p.size for p in stream._parts))
    segments += stream.finish()
    text = " ".join(s.text for s in segments).lower()
    assert text.count("fellow americans") == 4
    assert text.count("going to the park") == 4
    assert most_held <= 16000 * (30 + 2)
    fellow = [w.start_s for s in segments for w in s.words if "fellow" in w.word]
    expected = [start + alone[0].start_s for start in jfk_starts_s]
    assert np.allclose(fellow, expected, atol=0.3), (fellow, expected)
