"""Perception throughput on 2 cores: sounds, OCR (both engines), and a whole `index` run.

Media (generated here, so the expected text is known): a 720p video with espeak-ng speech
and burnt-in captions in English, German and French, `--seconds` long (captions change
every 4 s). The speech is English sentences that never repeat (`--speech narration`), or
the English, German, Spanish and French passages one after another, looped
(`--speech multilingual`: Whisper decodes such windows again at its fallback temperatures,
which costs twice as much or more). Prints:

- `sounds`: seconds of audio per second (the extractor alone, on the video's sound);
- `ocr` per engine: sampled frames per second, and the character error rate of each
  caption;
- `index` twice, as x-realtime and as a ratio to a decode-only pass over the same file in
  the same run (PyAV, every frame scaled to the shot width, audio resampled to 16 kHz):
  with the perception set (file hash, media info, shots, thumbnails, speech, sounds, OCR,
  text vectors) and with every extractor (the default). The goal for the whole default
  pipeline is at least 2x realtime on 2 cores.

    python bench/perception.py [--seconds 60] [--repeats 2] [--speech narration|multilingual]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from av.audio.resampler import AudioResampler

from videolearn.config import Settings, load_settings
from videolearn.extractors.ocr import OcrExtractor
from videolearn.extractors.registry import available_extractors
from videolearn.extractors.runner import extract_file
from videolearn.extractors.sounds import SoundsExtractor
from videolearn.library import open_library
from videolearn.samples import (
    SPOKEN_PASSAGES,
    Caption,
    character_error_rate,
    read_audio,
    speak,
    write_captioned_video,
)

PIPELINE = [
    "file_hash",
    "media_info",
    "shots",
    "thumbnails",
    "speech",
    "sounds",
    "ocr",
    "text_embed",
]
LINES = [
    "Welcome to the Harbour",
    "Grüße aus der Straße",
    "Le café est fermé",
    "Price: 42.50 EUR",
    "Öffnungszeiten täglich",
    "Next stop: Central Station",
]


_SUBJECTS = [
    "Anna",
    "Peter",
    "the teacher",
    "my brother",
    "our neighbour",
    "the driver",
    "a young painter",
    "the baker",
    "two fishermen",
    "the mayor",
    "grandmother",
    "a tall stranger",
    "the children",
    "my cousin Laura",
    "the night guard",
]
_VERBS = [
    "walked to",
    "drove past",
    "painted",
    "cleaned",
    "visited",
    "photographed",
    "described",
    "remembered",
    "sold tickets at",
    "slept near",
    "waited outside",
    "repaired the roof of",
    "found a key near",
    "sang songs at",
    "lost a glove at",
]
_PLACES = [
    "the harbour",
    "the old mill",
    "a small bakery",
    "the station",
    "the museum",
    "the bridge",
    "the library",
    "a quiet farm",
    "the market square",
    "the hospital",
    "an empty cinema",
    "the lighthouse",
    "the school garden",
    "a noisy factory",
    "the river bank",
]
_TIMES = [
    "on Monday",
    "last winter",
    "after lunch",
    "in the morning",
    "at sunset",
    "before the storm",
    "during the festival",
    "late at night",
    "on a rainy Sunday",
    "in early spring",
    "yesterday",
    "three weeks ago",
]
_TAILS = [
    "",
    "",
    "",
    " with two friends",
    " in the rain",
    " for the first time",
    " without a map",
    " while it was snowing",
    " because nobody else could",
    " and then went home",
    " to everybody's surprise",
]


def narration(seconds: float, seed: int = 0) -> str:
    """English sentences that do not repeat, about `seconds` long when spoken. Looped or
    templated text is more compressible than speech (gzip ratio above Whisper's 2.4),
    which sends every window through all of Whisper's fallback temperatures; these
    sentences keep to 1.7-2.0 per 75 words, as speech does."""
    rng = np.random.default_rng(seed)
    sentences: list[str] = []
    while len(" ".join(sentences).split()) < seconds * 2.6:  # espeak's pace, words/s
        who, does, where = rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_PLACES)
        when, tail = rng.choice(_TIMES), rng.choice(_TAILS)
        form = [
            f"{when} {who} {does} {where}{tail}.",
            f"{who} {does} {where} {when}{tail}.",
            f"nobody knows why {who} {does} {where}{tail}.",
        ][int(rng.integers(3))]
        sentences.append(form[0].upper() + form[1:])
    return " ".join(sentences)


def make_media(folder: Path, seconds: float, speech: str) -> tuple[Path, list[Caption]]:
    if speech == "multilingual":  # the four passages, one after another, looped
        voice = np.concatenate(
            [
                read_audio(speak(folder / f"{lang}.wav", text, voice=lang))
                for lang, text in SPOKEN_PASSAGES.items()
            ]
        )
    else:
        voice = read_audio(speak(folder / "narration.wav", narration(seconds), voice="en"))
    audio = np.resize(voice, round(seconds * 16_000)).astype(np.float32)
    captions = [
        Caption(LINES[k % len(LINES)], k * 4.0, (k + 1) * 4.0, 0.7 if k % 2 else 0.12, 40)
        for k in range(int(seconds // 4))
    ]
    path = write_captioned_video(
        folder / "perception-720p.mp4", captions, seconds, fps=25, size=(1280, 720), audio=audio
    )
    return path, captions


def decode_only(path: Path, width: int) -> float:
    start = time.perf_counter()
    with av.open(str(path)) as container:
        container.streams.video[0].thread_count = 1
        resampler = AudioResampler(format="flt", layout="mono", rate=16_000)
        for packet in container.demux():
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    h = round(width * frame.height / frame.width / 2) * 2
                    frame.reformat(width=width, height=h, format="bgr24").to_ndarray()
                elif isinstance(frame, av.AudioFrame):
                    for out in resampler.resample(frame):
                        out.to_ndarray()
    return time.perf_counter() - start


def bench_sounds(path: Path, settings: Settings, seconds: float) -> None:
    extractor = SoundsExtractor(settings)
    extractor.load()
    start = time.perf_counter()
    _, signals = extract_file(path, [extractor], settings)
    elapsed = time.perf_counter() - start
    labels = sorted({m.label for m in signals["sounds"]})  # type: ignore[union-attr]
    print(f"sounds: {seconds / elapsed:7.1f} s of audio per s  ({elapsed:.1f} s; heard {labels})")


def bench_ocr(path: Path, settings: Settings, captions: list[Caption], seconds: float) -> None:
    for engine in ("rapidocr", "tesseract"):
        s = load_settings(settings.library, ocr={"engine": engine})
        extractor = OcrExtractor(s)
        extractor.load()
        start = time.perf_counter()
        _, signals = extract_file(path, [extractor], s)
        elapsed = time.perf_counter() - start
        found = signals["ocr"]
        errors = []
        for c in captions:
            overlapping = [
                m for m in found if m.span.start_s < c.end_s and m.span.end_s > c.start_s
            ]
            best = min(
                (character_error_rate(c.text, m.text) for m in overlapping),  # type: ignore[attr-defined]
                default=1.0,
            )
            errors.append(best)
        sampled = seconds * s.ocr.sample_fps
        print(
            f"ocr {engine:9s}: {sampled / elapsed:6.1f} sampled frames/s, "
            f"{seconds / elapsed:5.1f}x realtime, {len(found)} moments for {len(captions)} "
            f"captions, CER mean {np.mean(errors):.3f} max {max(errors):.3f}"
        )


def index_once(path: Path, extractors: list[str] | None) -> float:
    folder = Path(tempfile.mkdtemp(prefix="videolearn-bench-"))
    try:
        s = load_settings(folder / "library", keep_versions_s=0, extractors=extractors)
        start = time.perf_counter()
        with open_library(create=True, settings=s) as lib:
            results = lib.index([path])
        elapsed = time.perf_counter() - start
        if any(r.status != "indexed" for r in results):
            raise SystemExit(f"index failed: {results}")
        return elapsed
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bench_index(path: Path, settings: Settings, seconds: float, repeats: int) -> None:
    ref_s: list[float] = []
    runs: dict[str, list[float]] = {"perception": [], "every extractor": []}
    for _ in range(repeats):
        ref_s.append(decode_only(path, settings.shot_width_px))
        runs["perception"].append(index_once(path, PIPELINE))
        runs["every extractor"].append(index_once(path, None))
    ref = min(ref_s)
    print(f"decode-only (reference): {seconds / ref:6.1f}x realtime")
    print(f"  perception: {', '.join(PIPELINE)}")
    print(f"  every extractor: {', '.join(available_extractors())}")
    for name, times in runs.items():
        idx = min(times)
        print(
            f"index, {name:15s}: {seconds / idx:5.1f}x realtime, "
            f"ratio to decode-only {ref / idx:.3f} (best of {repeats}; goal >= 2x realtime)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--speech",
        choices=["narration", "multilingual"],
        default="narration",
        help="English sentences that never repeat, or four languages' passages looped",
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="videolearn-perception-"))
    try:
        path, captions = make_media(folder, args.seconds, args.speech)
        settings = load_settings(folder / "library")
        print(
            f"media: {path.name}, {args.seconds:.0f} s, 1280x720 at 25 fps, speech: {args.speech}"
        )
        bench_sounds(path, settings, args.seconds)
        bench_ocr(path, settings, captions, args.seconds)
        bench_index(path, settings, args.seconds, args.repeats)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
