"""Procedural audio-visual clips with known structure: the benchmark's data.

A *concept* pairs a visual motif (a shape and how it moves) with an audio motif (a pitch
and a timbre): the shape sets the pitch and the motion sets the timbre, so the held-out
concepts are new combinations of seen parts. The sound fires at the visual events (the
bounce hits the floor, the slider hits a wall, the orbiter passes the top, the pulser
peaks). Everything else is random per clip: colours, background texture, size, speed,
phase, distractor objects that make no sound, hum and noise. Labels exist only for
evaluation; training sees clips alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

SAMPLE_RATE_HZ = 16_000
SHAPES = ("circle", "square", "triangle", "cross", "ring", "bar")
MOTIONS = ("bounce", "slide", "orbit", "pulse")
PITCHES_HZ = (196.0, 294.0, 440.0, 659.0, 988.0, 1480.0)  # by shape
TIMBRES = ("sine", "square", "saw", "buzz")  # by motion


@dataclass(frozen=True)
class Concept:
    index: int
    shape: str
    motion: str
    pitch_hz: float
    timbre: str

    @property
    def held_out(self) -> bool:
        """A third of the shape x motion grid, every shape and motion in both halves."""
        return (SHAPES.index(self.shape) + MOTIONS.index(self.motion)) % 3 == 0


CONCEPTS = tuple(
    Concept(i * len(MOTIONS) + j, shape, motion, PITCHES_HZ[i], TIMBRES[j])
    for i, shape in enumerate(SHAPES)
    for j, motion in enumerate(MOTIONS)
)
SEEN = tuple(c for c in CONCEPTS if not c.held_out)
HELD_OUT = tuple(c for c in CONCEPTS if c.held_out)


@dataclass(frozen=True)
class Clip:
    concept: Concept
    frames: np.ndarray  # (T, S, S, 3) uint8 RGB
    audio: np.ndarray  # (samples,) float32 in [-1, 1] at 16 kHz
    fps: float
    event_times_s: np.ndarray


def event_times(motion: str, period_s: float, phase: float, duration_s: float) -> np.ndarray:
    """When the motion's events happen (sound onsets), in seconds."""
    # u = t / period + phase; events at integer u (bounce, orbit), half-integer (pulse),
    # or both (slide: each wall).
    step, offset = (0.5, 0.0) if motion == "slide" else (1.0, 0.5 if motion == "pulse" else 0.0)
    k = np.arange(math.floor(phase / step) - 1, (duration_s / period_s + phase) / step + 2)
    t = (k * step + offset - phase) * period_s
    return t[(t >= 0) & (t < duration_s)]


def _position(
    motion: str, u: float, size: int, radius: float, centre: tuple[float, float]
) -> tuple[float, float, float]:
    """(x, y, scale) of the object at phase u (cycles)."""
    lo, hi = radius + 1, size - radius - 2
    if motion == "bounce":  # floor at the bottom, events at integer u
        return centre[0], hi - (hi - lo) * abs(math.sin(math.pi * u)), 1.0
    if motion == "slide":  # between the walls, events at each wall
        tri = 2 * abs(u - math.floor(u + 0.5))
        return lo + (hi - lo) * tri, centre[1], 1.0
    if motion == "orbit":  # circle, event at the top
        r = 0.3 * size
        return (
            centre[0] + r * math.sin(2 * math.pi * u),
            centre[1] - r * math.cos(2 * math.pi * u),
            1.0,
        )
    # pulse: grows and shrinks in place, event at the largest
    return centre[0], centre[1], 0.45 + 0.75 * abs(math.sin(math.pi * u))


def _draw(
    image: np.ndarray, shape: str, at: tuple[float, float], r: float, color: tuple[int, ...]
) -> None:
    c = (round(at[0] * 16), round(at[1] * 16))  # 4 fractional bits: smooth sub-pixel motion
    ri = max(1, round(r * 16))
    if shape == "circle":
        cv2.circle(image, c, ri, color, -1, cv2.LINE_AA, 4)
    elif shape == "ring":
        cv2.circle(image, c, ri, color, max(1, round(r * 0.45)), cv2.LINE_AA, 4)
    elif shape == "square":
        cv2.rectangle(image, (c[0] - ri, c[1] - ri), (c[0] + ri, c[1] + ri), color, -1, 8, 4)
    elif shape == "bar":
        cv2.rectangle(
            image, (c[0] - ri, c[1] - ri // 3), (c[0] + ri, c[1] + ri // 3), color, -1, 8, 4
        )
    elif shape == "triangle":
        pts = np.array([[c[0], c[1] - ri], [c[0] - ri, c[1] + ri], [c[0] + ri, c[1] + ri]])
        cv2.fillPoly(image, [pts.astype(np.int32)], color, cv2.LINE_AA, 4)
    else:  # cross
        w = max(1, ri // 3)
        cv2.rectangle(image, (c[0] - ri, c[1] - w), (c[0] + ri, c[1] + w), color, -1, 8, 4)
        cv2.rectangle(image, (c[0] - w, c[1] - ri), (c[0] + w, c[1] + ri), color, -1, 8, 4)


def _tone(timbre: str, hz: float, n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE_HZ
    phase = hz * t
    if timbre == "sine":
        wave = np.sin(2 * np.pi * phase)
    elif timbre == "square":
        wave = 0.6 * np.sign(np.sin(2 * np.pi * phase))
    elif timbre == "saw":
        wave = 0.7 * (2 * (phase % 1.0) - 1)
    else:  # buzz: noise carried at the pitch
        wave = np.sin(2 * np.pi * phase) * rng.normal(0, 0.8, n)
    return wave * np.exp(-t / rng.uniform(0.06, 0.14))


def _random_color(rng: np.random.Generator, away_from: np.ndarray | None = None) -> np.ndarray:
    while True:
        color = rng.integers(0, 256, 3)
        if away_from is None or np.abs(color - away_from).sum() > 200:
            return color


def render(
    concept: Concept,
    rng: np.random.Generator,
    duration_s: float = 4.0,
    fps: float = 8.0,
    size_px: int = 32,
) -> Clip:
    """One random instance of `concept`."""
    n_frames = round(duration_s * fps)
    period_s = rng.uniform(0.6, 1.2)
    phase = rng.uniform(0, 1)
    # Background: a colour, a soft random gradient, noise.
    base = _random_color(rng)
    yy, xx = np.mgrid[0:size_px, 0:size_px] / size_px
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx + np.sin(angle) * yy)[..., None] * rng.uniform(-60, 60, 3)
    background = np.clip(base + ramp, 0, 255)
    color = tuple(int(v) for v in _random_color(rng, base))
    radius = size_px * rng.uniform(0.1, 0.16)
    centre = (size_px * rng.uniform(0.35, 0.65), size_px * rng.uniform(0.35, 0.65))
    distractors = [
        (
            rng.uniform(0, size_px, 2),
            rng.uniform(-size_px, size_px, 2) / 3,
            tuple(int(v) for v in _random_color(rng)),
            size_px * rng.uniform(0.03, 0.06),
        )
        for _ in range(rng.integers(0, 3))
    ]
    noise_level = rng.uniform(0, 8)
    frames = np.empty((n_frames, size_px, size_px, 3), np.uint8)
    for i in range(n_frames):
        t = i / fps
        image = background.copy()
        for start, velocity, dcolor, dr in distractors:
            dx, dy = (start + velocity * t) % size_px
            cv2.circle(image, (round(dx * 16), round(dy * 16)), round(dr * 16), dcolor, -1, 16, 4)
        x, y, scale = _position(concept.motion, t / period_s + phase, size_px, radius, centre)
        _draw(image, concept.shape, (x, y), radius * scale, color)
        image += rng.normal(0, noise_level, image.shape)
        frames[i] = np.clip(image, 0, 255).astype(np.uint8)
    # Sound: a note at every event, over hum and noise.
    n = round(duration_s * SAMPLE_RATE_HZ)
    audio = rng.normal(0, rng.uniform(0.002, 0.03), n)
    hum_hz = rng.uniform(50, 150)
    audio += rng.uniform(0, 0.05) * np.sin(2 * np.pi * hum_hz * np.arange(n) / SAMPLE_RATE_HZ)
    events = event_times(concept.motion, period_s, phase, duration_s)
    note = round(0.35 * SAMPLE_RATE_HZ)
    loudness = rng.uniform(0.3, 0.6)
    for e in events:
        onset = round(float(e) * SAMPLE_RATE_HZ)
        hz = concept.pitch_hz * rng.uniform(0.98, 1.02)
        piece = _tone(concept.timbre, hz, min(note, n - onset), rng)
        audio[onset : onset + len(piece)] += loudness * piece
    return Clip(concept, frames, np.clip(audio, -1, 1).astype(np.float32), fps, events)
