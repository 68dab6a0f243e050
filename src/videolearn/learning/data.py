"""Training clips: short windows of pictures and the matching sound, from media files.

Files are read through the same decode path as `index` (PyAV, our sampling and scaling,
16 kHz mono audio), so the benchmark's generated MP4s and a user's videos reach the
networks the same way. A clip is `frames` pictures at `fps` (square, `size_px`, the
centre of the picture) and the audio of the same stretch of time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from videolearn.config import DecodeLimits
from videolearn.ingest.decode import DecodeRequest, FrameSampling, open_media
from videolearn.learning.models.audio import SAMPLE_RATE_HZ


@dataclass(frozen=True)
class ClipSpec:
    """What one clip holds."""

    frames: int = 8
    fps: float = 8.0
    size_px: int = 32

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps

    @property
    def audio_samples(self) -> int:
        return round(self.duration_s * SAMPLE_RATE_HZ)


@dataclass(frozen=True)
class DecodedMedia:
    """A whole (short) file decoded at a clip spec's rate and size."""

    path: str
    frames: np.ndarray  # (N, S, S, 3) uint8
    times_s: np.ndarray  # (N,)
    audio: np.ndarray  # (samples,) int16, 16 kHz mono

    @property
    def duration_s(self) -> float:
        return min(
            float(self.times_s[-1]) + 1e-3 if len(self.times_s) else 0.0,
            len(self.audio) / SAMPLE_RATE_HZ,
        )


def decode_media(
    path: Path, spec: ClipSpec, limits: DecodeLimits, max_s: float | None = None
) -> DecodedMedia:
    """Decode `path` at `spec.fps`, scaled so the short side is `spec.size_px`, centre
    square cut; the audio as 16 kHz 16-bit mono. With `max_s`, only about that much of
    the start of the file.

    Raises:
        MediaError: the file cannot be decoded, or has no video or no audio.
    """
    from videolearn.errors import MediaError

    with open_media(path, limits) as reader:
        video = reader.info.video
        if video is None or reader.info.audio is None:
            raise MediaError(path, "learning needs both pictures and sound")
        w, h = video.width_px, video.height_px
        width = max(spec.size_px, math.ceil(spec.size_px * w / h))
        sampling = FrameSampling(spec.fps, width + width % 2)
        frames: list[np.ndarray] = []
        times: list[np.ndarray] = []
        audio: list[np.ndarray] = []
        for chunk in reader.iter_chunks(DecodeRequest(frames=(sampling,), audio=True)):
            batch = chunk.frames.get(sampling)
            if batch is not None and len(batch.frames):
                frames.append(centre_square(batch.frames, spec.size_px))
                times.append(batch.times_s)
            if chunk.audio is not None:
                audio.append(chunk.audio.samples)
            if max_s is not None and chunk.end_s >= max_s:
                break
    if not frames or not audio:
        raise MediaError(path, "no pictures or no sound decoded")
    return DecodedMedia(
        str(path), np.concatenate(frames), np.concatenate(times), to_pcm16(np.concatenate(audio))
    )


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] -> int16, as `DecodedMedia` keeps its sound."""
    pcm: np.ndarray = np.clip(samples * 32767, -32768, 32767).astype(np.int16)
    return pcm


def from_pcm16(pcm: np.ndarray) -> np.ndarray:
    """int16 samples -> float32 in [-1, 1)."""
    return pcm.astype(np.float32) / 32768


def centre_square(frames: np.ndarray, size_px: int) -> np.ndarray:
    """(N, H, W, 3) -> (N, S, S, 3): the centre, resized when a side is not S already."""
    _, h, w, _ = frames.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = frames[:, top : top + side, left : left + side]
    if side == size_px:
        return np.ascontiguousarray(square)
    import cv2

    return np.stack(
        [cv2.resize(f, (size_px, size_px), interpolation=cv2.INTER_AREA) for f in square]
    )


def window(media: DecodedMedia, start_s: float, spec: ClipSpec) -> tuple[np.ndarray, np.ndarray]:
    """The clip starting at `start_s`: (T, S, S, 3) uint8 frames and float32 audio."""
    # Past the last picture (pictures ending before the sound), the last one stands in.
    first = min(int(np.searchsorted(media.times_s, start_s - 1e-6)), len(media.frames) - 1)
    frames = media.frames[first : first + spec.frames]
    if len(frames) < spec.frames:  # a short tail: repeat the last picture
        frames = np.concatenate([frames, np.repeat(frames[-1:], spec.frames - len(frames), 0)])
    a0 = round(start_s * SAMPLE_RATE_HZ)
    audio = from_pcm16(media.audio[a0 : a0 + spec.audio_samples])
    if len(audio) < spec.audio_samples:
        audio = np.pad(audio, (0, spec.audio_samples - len(audio)))
    return frames, audio


def to_video_tensor(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (3, T, H, W) float in [0, 1]."""
    return torch.from_numpy(frames).permute(3, 0, 1, 2).float().div_(255)


class TrainingClips(torch.utils.data.IterableDataset[tuple[torch.Tensor, ...]]):
    """Endless random clips from decoded files, augmented, each with a time-shifted copy
    of its audio (GDT's shift transformation: a negative for its own video).

    Yields (video (3, T, S, S), audio (samples,), shifted audio (samples,)).
    """

    def __init__(
        self,
        media: Sequence[DecodedMedia],
        spec: ClipSpec,
        *,
        seed: int,
        shift_s: tuple[float, float],
    ) -> None:
        self.media = [m for m in media if m.duration_s >= spec.duration_s]
        self.spec = spec
        self.seed = seed
        self.shift_s = shift_s

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        info = torch.utils.data.get_worker_info()
        return self.stream([self.seed, info.id if info else 0])

    def stream(self, seed: int | Sequence[int]) -> Iterator[tuple[torch.Tensor, ...]]:
        """The clips drawn by a generator seeded with `seed`."""
        rng = np.random.default_rng(seed)
        spec = self.spec
        while True:
            media = self.media[rng.integers(len(self.media))]
            latest = media.duration_s - spec.duration_s
            start = rng.uniform(0, latest)
            # A shift that keeps the shifted window inside the file.
            lo, hi = self.shift_s
            candidates = [
                s for s in (rng.uniform(lo, hi), -rng.uniform(lo, hi)) if 0 <= start + s <= latest
            ]
            shift = candidates[rng.integers(len(candidates))] if candidates else latest - start
            frames, audio = window(media, start, spec)
            _, shifted = window(media, start + shift, spec)
            yield (
                _augment_video(frames, rng),
                _augment_audio(audio, rng),
                _augment_audio(shifted, rng),
            )


def _augment_video(frames: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
    """Random crop of 80-100% of the side resized back, horizontal flip, brightness and
    contrast: the same for every frame of the clip."""
    video = to_video_tensor(frames)  # (3, T, S, S)
    size = video.shape[-1]
    side = int(size * rng.uniform(0.8, 1.0))
    top, left = rng.integers(0, size - side + 1, 2)
    video = video[..., top : top + side, left : left + side]
    if side != size:
        video = torch.nn.functional.interpolate(
            video, size=(size, size), mode="bilinear", align_corners=False
        )
    if rng.random() < 0.5:
        video = video.flip(-1)
    mean = video.mean()
    video = (video - mean) * rng.uniform(0.7, 1.3) + mean + rng.uniform(-0.15, 0.15)
    return video.clamp_(0, 1)


def _augment_audio(audio: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
    """Random gain and a little noise."""
    out = audio * rng.uniform(0.5, 1.5) + rng.normal(0, rng.uniform(0, 0.01), audio.shape)
    return torch.from_numpy(out.astype(np.float32))
