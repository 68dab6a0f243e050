"""Generated sample media: small real files with known content, for the demo and the tests.

Each file is written with PyAV, so expectations are exact: a clip made of solid-colour
shots has its cuts where the colours change, a tone has a known pitch.
Run `python -m videolearn.samples DIR` to write the demo set.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import cv2
import numpy as np

AUDIO_RATE_HZ = 48_000


def _frame_image(color: tuple[int, int, int], width: int, height: int, i: int) -> np.ndarray:
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = color
    # A small moving square keeps the encoder honest and shows motion within a shot.
    x = (i * 3) % max(1, width - 16)
    image[height // 2 - 8 : height // 2 + 8, x : x + 16] = 255 - np.array(color, dtype=np.uint8)
    return image


def write_video(
    path: Path,
    shots: Sequence[tuple[tuple[int, int, int], float]],
    *,
    fps: int = 25,
    size: tuple[int, int] = (160, 120),
    tone_hz: float | None = 440.0,
    codec: str = "libx264",
    rotation_deg: int = 0,
    frame_times_s: Sequence[float] | None = None,
    container_options: dict[str, str] | None = None,
) -> Path:
    """Write a video of solid-colour shots `[(rgb, seconds), ...]`, with an optional tone.

    Args:
        frame_times_s: explicit presentation times (variable frame rate); overrides `fps`
            spacing but keeps the shot colours by time.
        rotation_deg: display rotation written into the stream's display matrix.
    """
    width, height = size
    total_s = sum(d for _, d in shots)
    times = (
        list(frame_times_s)
        if frame_times_s is not None
        else [i / fps for i in range(round(total_s * fps))]
    )
    time_base = Fraction(1, 1000) if frame_times_s is not None else Fraction(1, fps)
    with av.open(str(path), "w", options=container_options or {}) as out:
        vs = cast(av.VideoStream, out.add_stream(codec, rate=fps))
        vs.width, vs.height = width, height
        vs.pix_fmt = "yuv420p"
        vs.time_base = time_base
        if codec == "libx264":
            vs.options = {"preset": "ultrafast", "crf": "18"}
        if rotation_deg:
            vs.set_display_rotation(rotation_deg)
        aus = None
        if tone_hz is not None:
            aus = out.add_stream("aac", rate=AUDIO_RATE_HZ)
            aus.layout = "mono"
        for i, t in enumerate(times):
            color = _color_at(shots, t)
            frame = av.VideoFrame.from_ndarray(
                _frame_image(color, width, height, i), format="rgb24"
            )
            frame.pts = round(t / time_base)
            frame.time_base = time_base
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if aus is not None and tone_hz is not None:
            _write_tone(out, aus, tone_hz, total_s)
    return path


def _color_at(
    shots: Sequence[tuple[tuple[int, int, int], float]], t: float
) -> tuple[int, int, int]:
    edge = 0.0
    for color, duration in shots:
        edge += duration
        if t < edge - 1e-9:
            return color
    return shots[-1][0]


def tone(seconds: float, hz: float = 1000.0, rate_hz: int = AUDIO_RATE_HZ) -> np.ndarray:
    """Mono float samples of a steady sine at `hz`, at 0.3 of full scale."""
    n = round(seconds * rate_hz)
    return (0.3 * np.sin(2 * np.pi * hz * np.arange(n) / rate_hz)).astype(np.float32)


def colour_bars(seconds: float, fps: float) -> np.ndarray:
    """(T, 180, 320, 3) frames of a still test card: colour bars over a grey ramp (no
    column or row of one colour, so no border is cut off it)."""
    bars = np.array(
        [[235, 235, 235], [235, 235, 16], [16, 235, 235], [16, 235, 16], [235, 16, 235]],
        np.uint8,
    )
    top = np.repeat(np.repeat(bars[None, :, :], 120, axis=0), 64, axis=1)  # (120, 320, 3)
    ramp = np.repeat(np.linspace(0, 255, 320).astype(np.uint8)[None, :, None], 3, axis=2)
    card = np.concatenate([top, np.repeat(ramp, 60, axis=0)])  # (180, 320, 3)
    return np.broadcast_to(card, (round(seconds * fps), *card.shape)).copy()


def _write_tone(
    out: av.container.OutputContainer, stream: av.AudioStream, hz: float, seconds: float
) -> None:
    _write_samples(out, stream, tone(seconds, hz), AUDIO_RATE_HZ)


def _write_samples(
    out: av.container.OutputContainer, stream: av.AudioStream, samples: np.ndarray, rate_hz: int
) -> None:
    block = 1024
    for start in range(0, len(samples), block):
        chunk = samples[start : start + block].astype(np.float32).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        frame.sample_rate = rate_hz
        frame.pts = start
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def _h264(
    out: av.container.OutputContainer, rate: Fraction, width: int, height: int, crf: int = 18
) -> av.VideoStream:
    """An H.264 stream as the samples write it: fast, near-lossless (at CRF 18), yuv420p."""
    stream = out.add_stream("libx264", rate=rate)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.options = {"preset": "ultrafast", "crf": str(crf)}
    return stream


def write_av(
    path: Path,
    frames: np.ndarray,
    fps: float,
    audio: np.ndarray,
    audio_rate_hz: int,
    *,
    crf: int = 18,
) -> Path:
    """Write (T, H, W, 3) uint8 RGB frames (H.264 at `crf`: 18 near-lossless, 40 harsh)
    and mono float audio in [-1, 1] (AAC) to an MP4 file, as a camera or an editor would."""
    with av.open(str(path), "w") as out:
        height, width = frames.shape[1:3]
        # H.264 in yuv420p needs even sides.
        frames = frames[:, : height - height % 2, : width - width % 2]
        height, width = frames.shape[1:3]
        vs = _h264(out, Fraction(fps).limit_denominator(), width, height, crf)
        aus = out.add_stream("aac", rate=audio_rate_hz)
        aus.layout = "mono"
        for image in frames:
            out.mux(vs.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(vs.encode(None))
        _write_samples(out, aus, audio, audio_rate_hz)
    return path


# Fonts with the glyphs of the captions' languages (umlauts, accents): Debian's
# fonts-dejavu-core. Pillow's own default font has no umlauts.
FONT_FILES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)


@dataclass(frozen=True)
class Caption:
    """Text burnt into a video from `start_s` to `end_s`, its top at `y` (a fraction of
    the height) and its left at `x`, `size_px` high, in `font` (a file, or a name in
    Debian's font folders), `colour` with an `outline` (None: none)."""

    text: str
    start_s: float
    end_s: float
    y: float = 0.4
    size_px: int = 32
    x: float = 0.06
    font: str = ""
    colour: tuple[int, int, int] = (255, 255, 255)
    outline: tuple[int, int, int] | None = (0, 0, 0)


FONT_FOLDERS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts"))
BACKGROUNDS = ("gradient", "plain", "noise")


def font_file(name: str = "") -> Path:
    """A font by file or by name (`DejaVuSerif.ttf`, `wqy-microhei.ttc`); DejaVu Sans
    when no name is given."""
    if not name:
        found = next((f for f in FONT_FILES if f.is_file()), None)
        if found is None:
            raise FileNotFoundError("no DejaVuSans.ttf: apt-get install fonts-dejavu-core")
        return found
    if Path(name).is_file():
        return Path(name)
    for folder in FONT_FOLDERS:
        found = next(iter(sorted(folder.rglob(name))), None) if folder.is_dir() else None
        if found is not None:
            return found
    raise FileNotFoundError(f"no font {name!r} under {', '.join(map(str, FONT_FOLDERS))}")


def _background(kind: str, t: float, xx: np.ndarray, yy: np.ndarray, seed: int) -> np.ndarray:
    """One frame's ground: a slowly drifting colour gradient, a plain grey-blue, or
    photo-like noise (smooth blotches with grain, drifting)."""
    height, width = xx.shape
    if kind == "plain":
        return np.broadcast_to(np.array([70, 80, 110], np.float32), (height, width, 3))
    if kind == "noise":
        # Blotches of muted colour a few dozen pixels across, with grain.
        rng = np.random.default_rng(seed)
        coarse = rng.uniform(40, 200, (height // 40 + 3, width // 40 + 3, 3)).astype(np.float32)
        grey = coarse.mean(axis=2, keepdims=True)
        coarse = grey + 0.6 * (coarse - grey)
        shift = int(4 * t) % 80
        blotches = cv2.resize(coarse, (width + 80, height + 80), interpolation=cv2.INTER_CUBIC)
        grain = np.random.default_rng(seed + round(t * 100)).normal(0, 8, (height, width, 3))
        return np.asarray(blotches[shift : shift + height, shift : shift + width] + grain)
    phase = (xx + yy + 20 * t) / (width + height)
    return np.stack([60 + 50 * phase, 90 + 40 * np.sin(3 * phase), 140 - 60 * phase], -1)


def write_captioned_video(
    path: Path,
    captions: Sequence[Caption],
    seconds: float,
    *,
    fps: int = 10,
    size: tuple[int, int] = (640, 360),
    audio: np.ndarray | None = None,
    audio_rate_hz: int = 16_000,
    background: str = "gradient",
    seed: int = 0,
) -> Path:
    """Write an H.264 video of `background` (`BACKGROUNDS`; a slowly drifting colour
    gradient by default) with `captions` drawn on it (by default white with a dark
    outline, as subtitles and titles are), with `audio` (mono float samples, AAC) as its
    sound when given."""
    from PIL import Image, ImageDraw, ImageFont

    if background not in BACKGROUNDS:
        raise ValueError(f"background {background!r}: one of {', '.join(BACKGROUNDS)}")
    fonts = {
        (c.font, c.size_px): ImageFont.truetype(str(font_file(c.font)), c.size_px) for c in captions
    }
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    with av.open(str(path), "w") as out:
        vs = _h264(out, Fraction(fps), width, height)
        aus = None
        if audio is not None:
            aus = out.add_stream("aac", rate=audio_rate_hz)
            aus.layout = "mono"
        for i in range(round(seconds * fps)):
            t = i / fps
            rgb = _background(background, t, xx, yy, seed)
            image = Image.fromarray(rgb.clip(0, 255).astype(np.uint8))
            draw = ImageDraw.Draw(image)
            for c in captions:
                if c.start_s <= t < c.end_s:
                    draw.text(
                        (width * c.x, height * c.y),
                        c.text,
                        font=fonts[(c.font, c.size_px)],
                        fill=c.colour,
                        stroke_width=2 if c.outline else 0,
                        stroke_fill=c.outline,
                    )
            frame = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if aus is not None and audio is not None:
            _write_samples(out, aus, audio, audio_rate_hz)
    return path


def write_tone(path: Path, seconds: float, hz: float = 440.0, codec: str = "flac") -> Path:
    """Write an audio-only file holding one sine tone."""
    with av.open(str(path), "w") as out:
        stream = cast(av.AudioStream, out.add_stream(codec, rate=AUDIO_RATE_HZ))
        stream.layout = "mono"
        _write_tone(out, stream, hz, seconds)
    return path


RED, GREEN, BLUE, YELLOW = (220, 30, 30), (30, 200, 60), (40, 60, 220), (230, 210, 40)


def write_demo_set(folder: Path) -> list[Path]:
    """The demo's sample library: a few short clips, a sound file, and speech when
    espeak-ng is installed."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    written = [
        write_video(folder / "three-shots.mp4", [(RED, 2.0), (GREEN, 2.0), (BLUE, 2.0)]),
        write_video(folder / "two-shots.mkv", [(YELLOW, 1.5), (BLUE, 2.5)], tone_hz=660.0),
        write_video(folder / "portrait.mp4", [(GREEN, 3.0)], rotation_deg=90, tone_hz=None),
        write_tone(folder / "tone.flac", 3.0),
        write_captioned_video(
            folder / "harbour.mp4",
            [
                Caption("HARBOUR FERRY", 0.0, 3.0),
                Caption("CITY MARKET", 3.0, 6.0),
                Caption("FERRY TIMETABLE", 6.0, 9.0),
            ],
            9.0,
            audio=sound_effect("music", 9.0),
        ),
    ]
    if shutil.which("espeak-ng"):
        written.append(speak(folder / "spoken.wav", SPOKEN_PASSAGES["en"], "en"))
    else:
        print("espeak-ng is not installed: the demo has no speech (apt-get install espeak-ng)")
    return written


def speak(path: Path, text: str, voice: str = "en", gap_before_s: float = 0.0) -> Path:
    """Write `text` spoken by espeak-ng (Debian package `espeak-ng`) to a WAV file,
    after `gap_before_s` of silence."""
    import shutil
    import subprocess

    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    spoken = path.with_suffix(".speech.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(spoken), text], check=True)
    if gap_before_s <= 0:
        spoken.replace(path)
        return path
    with av.open(str(spoken)) as src:
        stream = src.streams.audio[0]
        rate = stream.codec_context.sample_rate
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in src.decode(stream)])
    spoken.unlink()
    silence = np.zeros(round(gap_before_s * rate), dtype=samples.dtype)
    write_wav(path, np.concatenate([silence, samples]), rate)
    return path


def read_audio(path: Path, rate_hz: int = 16_000) -> np.ndarray:
    """A file's sound as mono float32 samples at `rate_hz` (PyAV's resampler); none for a
    file without sound. A packet the decoder refuses is left out (Megamind.avi's AC-3
    track holds one)."""
    from av.audio.resampler import AudioResampler

    parts = [np.zeros(0, np.float32)]
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return parts[0]
        resampler = AudioResampler(format="flt", layout="mono", rate=rate_hz)
        for packet in container.demux(audio=0):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                continue
            parts += [f.to_ndarray()[0] for frame in frames for f in resampler.resample(frame)]
    return np.concatenate(parts).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, rate_hz: int) -> Path:
    """Write mono samples (int16, or float in [-1, 1]) as a 16-bit PCM WAV file."""
    if samples.dtype != np.int16:
        samples = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=rate_hz)
        stream.layout = "mono"
        for start in range(0, samples.size, 4096):
            block = samples[start : start + 4096].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
            frame.sample_rate = rate_hz
            frame.pts = start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def sound_effect(kind: str, seconds: float, rate_hz: int = 16_000, seed: int = 0) -> np.ndarray:
    """Mono float samples of a synthesised everyday sound, for the sound-event tests.

    Kinds: "music" (a melody of decaying harmonic notes), "phone" (the US ring: 440 + 480 Hz,
    2 s on, 1 s off), "beeps" (1 kHz, 0.15 s every 0.5 s), "noise" (white noise), "silence".
    """
    t = np.arange(round(seconds * rate_hz)) / rate_hz
    out = np.zeros_like(t)
    if kind == "music":
        notes_hz = (261.6, 329.6, 392.0, 523.3, 392.0, 329.6, 293.7, 349.2)
        for k in range(int(seconds / 0.5)):
            hz, part = notes_hz[k % len(notes_hz)], (t >= k * 0.5) & (t < (k + 1) * 0.5)
            tt = t[part] - k * 0.5
            tone = sum(0.2 / h * np.sin(2 * np.pi * hz * h * tt) for h in (1, 2, 3))
            out[part] = (tone + 0.1 * np.sin(np.pi * hz * tt)) * np.exp(-3 * tt)
    elif kind == "phone":
        ring = 0.25 * (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 480 * t))
        out = ring * ((t % 3.0) < 2.0)
    elif kind == "beeps":
        out = 0.5 * np.sin(2 * np.pi * 1000 * t) * ((t % 0.5) < 0.15)
    elif kind == "noise":
        out = np.random.default_rng(seed).normal(0, 0.3, t.size)
    elif kind != "silence":
        raise ValueError(f"unknown sound {kind!r}")
    return np.clip(out, -1, 1).astype(np.float32)


def song(seconds: float, seed: int, rate_hz: int = 16_000) -> np.ndarray:
    """Mono float samples of a generated song: a melody of decaying harmonic notes of
    random pitch and length over a bass line, different for every `seed`, so that two
    videos with the same seed share "the same recording"."""
    rng = np.random.default_rng(seed)
    scale_hz = np.array([261.6, 293.7, 329.6, 349.2, 392.0, 440.0, 493.9, 523.3, 587.3, 659.3])
    t = np.arange(round(seconds * rate_hz)) / rate_hz
    out = np.zeros_like(t)
    for voice, octave in ((0, (0.5, 1.0, 2.0)), (1, (0.25,))):
        start_s = 0.0
        while start_s < seconds:
            length_s = float(rng.choice([0.25, 0.5, 0.75] if voice == 0 else [1.0, 2.0]))
            hz = float(rng.choice(scale_hz) * rng.choice(octave))
            part = (t >= start_s) & (t < start_s + length_s)
            tt = t[part] - start_s
            note = sum(0.2 / h * np.sin(2 * np.pi * hz * h * tt) for h in (1, 2, 3, 4))
            out[part] += note * np.exp(-2.0 * tt)
            start_s += length_s
    return np.clip(out, -1, 1).astype(np.float32)


def words_of(text: str) -> list[str]:
    """Lower-case words without punctuation (apostrophes kept): how transcripts compare."""
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def _error_rate(reference: Sequence[str], hypothesis: Sequence[str]) -> float:
    """Edit distance (substitutions, insertions, deletions) over the reference's length."""
    row = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, start=1):
        prev, row = row, [i] + [0] * len(hypothesis)
        for j, h in enumerate(hypothesis, start=1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (r != h))
    return row[-1] / max(1, len(reference))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """What came back from a sample's speech against what it says, word by word."""
    return _error_rate(words_of(reference), words_of(hypothesis))


def character_error_rate(reference: str, hypothesis: str) -> float:
    """What came back from a sample's text against what it shows, character by character."""
    return _error_rate(reference, hypothesis)


# Passages for generated speech in several languages (the same story in each).
SPOKEN_PASSAGES = {
    "en": "The weather is nice today and we are going to the park. My sister brought a basket "
    "of apples and some bread. We will stay there until the evening.",
    "de": "Das Wetter ist heute schön und wir gehen in den Park. Meine Schwester hat einen Korb "
    "mit Äpfeln und etwas Brot mitgebracht. Wir bleiben dort bis zum Abend.",
    "es": "El tiempo es agradable hoy y vamos al parque. Mi hermana trajo una cesta de manzanas "
    "y un poco de pan. Nos quedaremos allí hasta la noche.",
    "fr": "Il fait beau aujourd'hui et nous allons au parc. Ma soeur a apporté un panier de "
    "pommes et du pain. Nous resterons là-bas jusqu'au soir.",
}


# The edits a re-upload usually carries; `edited` makes each (a harsh re-encode is
# `write_av(..., crf=40)` of the frames as they are).
EDITS = ("crop", "pad", "logo", "reencode", "resize", "letterbox", "mirror", "colour")


def edited(frames: np.ndarray, edit: str) -> np.ndarray:
    """(T, H, W, 3) frames with one of `EDITS` made to every frame."""
    h, w = int(frames.shape[1]), int(frames.shape[2])
    if edit == "crop":  # a tenth off each side, kept at that size
        return frames[:, h // 10 : h - h // 10, w // 10 : w - w // 10].copy()
    if edit == "pad":  # a crop, then bars on every side
        inner = frames[:, h // 12 : h - h // 12, w // 12 : w - w // 12]
        return np.pad(inner, ((0, 0), (h // 8, h // 8), (w // 8, w // 8), (0, 0)))
    if edit == "logo":  # a solid badge over a quarter of the width in a corner
        out = frames.copy()
        out[:, h // 20 : h // 20 + h // 5, w - w // 20 - w // 4 : w - w // 20] = (250, 200, 30)
        return out
    if edit == "resize":  # a third of the size
        import cv2

        size = (max(2, w // 3), max(2, h // 3))
        return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
    if edit == "letterbox":  # squeezed into bars above and below
        import cv2

        kept_h = h * 7 // 10
        squeezed = np.stack(
            [cv2.resize(f, (w, kept_h), interpolation=cv2.INTER_AREA) for f in frames]
        )
        top = (h - kept_h) // 2
        return np.pad(squeezed, ((0, 0), (top, h - kept_h - top), (0, 0), (0, 0)))
    if edit == "mirror":
        return frames[:, :, ::-1].copy()
    if edit == "colour":  # sepia, a little darker
        tone = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])
        sepia = frames.astype(np.float32) @ tone.T.astype(np.float32)
        return np.asarray(np.clip(sepia * 0.85 + 10, 0, 255), np.uint8)
    if edit == "reencode":
        return frames
    raise ValueError(f"no edit called {edit!r}: one of {', '.join(EDITS)}")


def read_frames(path: Path, fps: float, width_px: int, seconds: float) -> np.ndarray:
    """(T, H, W, 3) RGB frames of a video at `fps`, `width_px` wide, its first `seconds`."""
    frames = []
    with av.open(str(path)) as src:
        stream = src.streams.video[0]
        next_s = 0.0
        for frame in src.decode(stream):
            t = float(frame.time or 0.0)
            if t >= seconds:
                break
            if t + 1e-6 >= next_s:
                height = round(frame.height * width_px / frame.width / 2) * 2
                frames.append(frame.to_ndarray(format="rgb24", width=width_px, height=height))
                next_s += 1.0 / fps
    return np.stack(frames)


def cut_video(source: Path, target: Path, start_s: float, end_s: float) -> Path:
    """Re-encode the frames of `source` shown from `start_s` to `end_s` (H.264, no sound):
    what a re-upload of a clip taken from a longer video looks like."""
    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        stream = src.streams.video[0]
        dst = _h264(out, stream.average_rate or Fraction(25), stream.width, stream.height)
        number = 0
        for frame in src.decode(stream):
            t = float(frame.time or 0.0)
            if start_s <= t < end_s:
                image = frame.to_ndarray(format="rgb24")
                picture = av.VideoFrame.from_ndarray(image, format="rgb24")
                picture.pts = number
                number += 1
                out.mux(dst.encode(picture))
        out.mux(dst.encode(None))
    return target


def pad_video(
    source: Path, target: Path, pad_px: tuple[int, int, int, int], grey: bool = True
) -> Path:
    """Re-encode `source` with black bars (top, bottom, left, right pixels) and, with
    `grey`, without colour: the padded re-upload that plain vPDQ misses."""
    top, bottom, left, right = pad_px
    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        stream = src.streams.video[0]
        width, height = stream.width + left + right, stream.height + top + bottom
        dst = _h264(out, stream.average_rate or Fraction(25), width, height)
        for number, frame in enumerate(src.decode(stream)):
            image = np.asarray(frame.to_ndarray(format="rgb24"))
            if grey:
                luma = image @ np.array([0.299, 0.587, 0.114])
                image = np.repeat(luma[..., None], 3, axis=2).round().astype(np.uint8)
            padded = np.pad(image, ((top, bottom), (left, right), (0, 0)))
            picture = av.VideoFrame.from_ndarray(padded, format="rgb24")
            picture.pts = number
            out.mux(dst.encode(picture))
        out.mux(dst.encode(None))
    return target


if __name__ == "__main__":
    for written in write_demo_set(Path(sys.argv[1] if len(sys.argv) > 1 else "demo-media")):
        print(f"wrote {written}")
