"""Speed of the speech extractor against calling faster-whisper directly, same run.

Both sides use the same loaded Whisper base model (int8, CPU) and the same decoding
settings (beam 5, word timestamps, no conditioning on previous text). The direct side is
`faster_whisper.decode_audio` + `WhisperModel.transcribe(vad_filter=True,
multilingual=True)`: the call that hears both halves of `multilingual.mp3` in their own
language, as ours does (without `multilingual`, faster-whisper keeps the language it
detects first for the whole file, and hears the German half as English: faster, and
wrong; that time is printed too, not compared). Ours is the whole path `index` and
`transcribe` take: the limited decode child process, the Silero VAD chunking with a
language per chunk, the guards. Runs alternate; best of N and median. Goal: ratio at
least 0.95, and at least 5x realtime. Also prints the word error rate on espeak-ng speech
in four languages when espeak-ng is installed.

    python bench/speech.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from faster_whisper import decode_audio

from videolearn.apps.transcribe import transcribe_file
from videolearn.config import load_settings
from videolearn.extractors.speech import Transcriber

REPO = Path(__file__).resolve().parents[1]


def direct(model: object, path: Path, multilingual: bool = True) -> str:
    audio = decode_audio(str(path))
    segments, _ = model.transcribe(  # type: ignore[attr-defined]
        audio,
        beam_size=5,
        word_timestamps=True,
        vad_filter=True,
        condition_on_previous_text=False,
        multilingual=multilingual,
    )
    return " ".join(s.text for s in segments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "speech")
    args = parser.parse_args()
    files = sorted(args.data.glob("*.*"))
    settings = load_settings(Path(tempfile.mkdtemp()) / "library")
    transcriber = Transcriber(settings.speech, settings.model_cache_dir)
    transcriber.load()
    model = transcriber._model  # the very same weights for both sides
    durations = {f: len(decode_audio(str(f))) / 16000 for f in files}
    total_s = sum(durations.values())
    for f in files:  # warm-up
        direct(model, f)
        transcribe_file(f, settings, transcriber)
    ours_s, theirs_s, one_language_s = [], [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        for f in files:
            direct(model, f)
        theirs_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        for f in files:
            transcribe_file(f, settings, transcriber)
        ours_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        for f in files:
            direct(model, f, multilingual=False)
        one_language_s.append(time.perf_counter() - t)
    ours, theirs = min(ours_s), min(theirs_s)
    print(f"files: {', '.join(f.name for f in files)} ({total_s:.1f} s of audio)")
    print(f"faster-whisper direct: {theirs:6.2f} s  {total_s / theirs:5.1f}x realtime")
    print(f"speech extractor path: {ours:6.2f} s  {total_s / ours:5.1f}x realtime")
    print(
        f"(faster-whisper with one language a file: {min(one_language_s):6.2f} s; it hears "
        "multilingual.mp3's German half as English)"
    )
    print(f"ratio extractor/direct: {theirs / ours:.2f}  (goal >= 0.95, best of {args.repeats})")
    median = statistics.median(theirs_s) / statistics.median(ours_s)
    print(f"ratio of medians: {median:.2f}  (goal >= 0.95)")
    if shutil.which("espeak-ng"):
        from videolearn.samples import SPOKEN_PASSAGES, speak, word_error_rate

        folder = Path(tempfile.mkdtemp())
        rates = {}
        for voice, text in SPOKEN_PASSAGES.items():
            said = transcribe_file(
                speak(folder / f"{voice}.wav", text, voice), settings, transcriber
            )
            rates[voice] = word_error_rate(text, " ".join(s.text for s in said.segments))
        print("espeak-ng word error rate: " + ", ".join(f"{k} {v:.2f}" for k, v in rates.items()))


if __name__ == "__main__":
    main()
