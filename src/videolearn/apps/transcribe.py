"""Transcribing one file, with or without a library, a stored video's transcript, and
writing subtitles.

The file is decoded through the same limited child process as `index` (16 kHz mono), and
transcribed with the `speech` extractor's transcriber as the audio arrives, so an hour of
audio never sits in memory at once. Subtitle cues are cut from word timestamps: at most
two lines of 42 characters and 7 s per cue, breaking after sentence ends, the limits
common players and broadcast guidelines accept.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videolearn.config import Settings
from videolearn.extractors.speech import SpeechSegment, SpeechStream, Transcriber, Word
from videolearn.ingest.decode import DecodeRequest
from videolearn.ingest.scan import stat_file
from videolearn.ingest.worker import open_decode
from videolearn.library import Library
from videolearn.store.tables import MomentRow
from videolearn.types import TimeSpan

FORMATS = ("srt", "vtt", "json", "txt")
MAX_LINE_CHARS = 42
MAX_LINES = 2
MAX_CUE_S = 7.0
MIN_CUE_S = 0.7
MAX_GAP_S = 1.0


@dataclass(frozen=True)
class Transcript:
    """A file's transcript: its main language, its duration, its segments in time order."""

    language: str
    duration_s: float
    segments: list[SpeechSegment]

    def to_json(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "duration_s": self.duration_s,
            "segments": [s.to_json() for s in self.segments],
        }


def main_language(segments: Sequence[SpeechSegment]) -> str:
    """The language spoken for the longest time; "" when nothing was said."""
    spoken: dict[str, float] = {}
    for seg in segments:
        spoken[seg.language] = spoken.get(seg.language, 0.0) + seg.span.duration_s
    return max(spoken, key=lambda k: spoken[k]) if spoken else ""


def transcribe_file(
    path: Path,
    settings: Settings,
    transcriber: Transcriber | None = None,
    on_progress: Callable[[float, float], None] | None = None,
) -> Transcript:
    """Transcribe a media file. Raises MediaError when it cannot be decoded."""
    stat_file(path, settings.decode.max_file_size_bytes)
    transcriber = transcriber or Transcriber(settings.speech, settings.model_cache_dir)
    transcriber.load()
    stream = SpeechStream(transcriber)
    segments: list[SpeechSegment] = []
    with open_decode(path, DecodeRequest(audio=True), settings.decode) as decode:
        duration_s = decode.info.duration_s
        for chunk in decode:
            if chunk.audio is not None:
                segments.extend(stream.add(chunk.audio.samples, chunk.audio.start_s))
            if on_progress is not None:
                on_progress(chunk.end_s, duration_s)
        segments.extend(stream.finish())
        report = decode.report
    if duration_s <= 0 and report is not None:
        duration_s = report.decoded_end_s
    return Transcript(main_language(segments), duration_s, segments)


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    lines: tuple[str, ...]


def build_cues(segments: Sequence[SpeechSegment]) -> list[Cue]:
    """Subtitle cues from word timestamps, within the line, length and duration limits.

    Words flow across Whisper's segments (which are often short phrases); a cue ends at a
    sentence end once it is a second long, at a pause of more than `MAX_GAP_S`, or when
    the next word would break a limit.
    """
    words: list[Word] = []
    for seg in segments:
        words.extend(seg.words or [Word(seg.span.start_s, seg.span.end_s, " " + seg.text, 1.0)])
    groups: list[list[Word]] = []
    current: list[Word] = []
    for word in words:
        if current and (
            word.start_s - current[-1].end_s > MAX_GAP_S or not _fits([*current, word])
        ):
            groups.append(current)
            current = []
        current.append(word)
        if word.word.rstrip().endswith(_SENTENCE_ENDS) and word.end_s - current[0].start_s >= 1.0:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    cues = []
    for i, group in enumerate(groups):
        start_s, end_s = group[0].start_s, group[-1].end_s
        next_start = groups[i + 1][0].start_s if i + 1 < len(groups) else None
        if end_s - start_s < MIN_CUE_S:
            end_s = start_s + MIN_CUE_S
            if next_start is not None:
                end_s = min(end_s, next_start)
        cues.append(Cue(start_s, max(end_s, start_s + 0.001), _lines(_text(group))))
    return cues


# A transcript line longer than this is split at its sentence ends (where its words'
# times say each sentence starts).
LONG_LINE_S = 12.0
# What ends a sentence, in Latin and in CJK scripts (ideographic full stop, full-width
# question and exclamation marks).
_SENTENCE_ENDS = (".", "?", "!", "\u3002", "\uff1f", "\uff01")


def sentences(segments: Sequence[SpeechSegment]) -> list[SpeechSegment]:
    """The segments as lines a person reads: one longer than `LONG_LINE_S` split after
    each word that ends a sentence, each part timed by its words (a segment without word
    times stays whole)."""
    out: list[SpeechSegment] = []
    for seg in segments:
        if seg.span.duration_s <= LONG_LINE_S or not seg.words:
            out.append(seg)
            continue
        parts: list[list[Word]] = [[]]
        for word in seg.words:
            parts[-1].append(word)
            if word.word.rstrip().endswith(_SENTENCE_ENDS):
                parts.append([])
        for part in (p for p in parts if p):
            span = TimeSpan(part[0].start_s, max(part[-1].end_s, part[0].start_s + 0.01))
            out.append(dataclasses.replace(seg, span=span, text=_text(part), words=tuple(part)))
    return out


def _text(words: Sequence[Word]) -> str:
    return "".join(w.word for w in words).strip()


def _fits(words: Sequence[Word]) -> bool:
    if words[-1].end_s - words[0].start_s > MAX_CUE_S:
        return False
    return len(_lines(_text(words))) <= MAX_LINES and all(
        len(line) <= MAX_LINE_CHARS for line in _lines(_text(words))
    )


def _lines(text: str) -> tuple[str, ...]:
    """Break text at word boundaries into the fewest lines of at most 42 characters,
    balancing two lines."""
    if len(text) <= MAX_LINE_CHARS:
        return (text,)
    words = text.split()
    best: tuple[str, ...] | None = None
    for cut in range(1, len(words)):
        first, second = " ".join(words[:cut]), " ".join(words[cut:])
        fits = len(first) <= MAX_LINE_CHARS and len(second) <= MAX_LINE_CHARS
        if fits and (
            best is None or abs(len(first) - len(second)) < abs(len(best[0]) - len(best[1]))
        ):
            best = (first, second)
    if best is not None:
        return best
    # Longer than two lines: greedy lines (the caller splits the cue).
    lines, line = [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > MAX_LINE_CHARS:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return (*lines, line)


def _timestamp(seconds: float, separator: str) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def to_srt(transcript: Transcript) -> str:
    blocks = [
        f"{n}\n{_timestamp(c.start_s, ',')} --> {_timestamp(c.end_s, ',')}\n" + "\n".join(c.lines)
        for n, c in enumerate(build_cues(transcript.segments), start=1)
    ]
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def to_vtt(transcript: Transcript) -> str:
    blocks = [
        f"{_timestamp(c.start_s, '.')} --> {_timestamp(c.end_s, '.')}\n" + "\n".join(c.lines)
        for c in build_cues(transcript.segments)
    ]
    return "WEBVTT\n\n" + "\n\n".join(blocks) + ("\n" if blocks else "")


def to_txt(transcript: Transcript) -> str:
    return "".join(f"{s.text}\n" for s in transcript.segments)


def render(transcript: Transcript, fmt: str) -> str:
    """The transcript as `srt`, `vtt`, `json` or `txt` text."""
    if fmt == "srt":
        return to_srt(transcript)
    if fmt == "vtt":
        return to_vtt(transcript)
    if fmt == "json":
        return json.dumps(transcript.to_json(), ensure_ascii=False) + "\n"
    if fmt == "txt":
        return to_txt(transcript)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def stored_transcript(library: Library, video: str) -> Transcript:
    """A stored video's transcript, from the speech moments `index` kept (nothing is
    transcribed again).

    Raises:
        VideoNotFoundError: no video, or more than one, has that path or id.
    """
    row = library.resolve(video)
    segments = [
        SpeechSegment(
            m.span,
            m.text,
            m.language or "",
            tuple(Word(**w) for w in m.attrs.get("words", ())),
            # The moment's score is the mean token probability (`segment_moment`).
            math.log(m.score) if m.score > 0 else -math.inf,
            bool(m.attrs.get("low_confidence", False)),
            float(m.attrs.get("language_probability", 1.0)),
        )
        for m in library.store.rows_of(MomentRow, row.video_id)
        if m.modality == "speech"
    ]
    return Transcript(main_language(segments), row.duration_s or 0.0, segments)


def save_text(path: Path, text: str) -> None:
    """Write `text` to `path` whole or not at all: a partial file first, then a rename."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
