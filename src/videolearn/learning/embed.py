"""`av_embed`: what the learned audio-visual model sees and hears in each shot.

Clips of the checkpoint's spec (8 frames at 8 fps by default, square, the centre of the
picture, with the sound of the same second) are cut from the video every
`learn.embed_every_s` as decoding goes on, so memory stays bounded on long files. Each
clip goes through both frozen towers; a shot's vector is the mean of its clips' backbone
features, L2-normalised: `av_video` and `av_audio`. A file without sound gets no
`av_audio`, one without pictures no `av_video`.

The weights are the library's own (`models/av.pt`, written by `videolearn learn`) when it
has trained, else the model this package ships, trained on the generated benchmark. Each
vector names the weights that made it: vectors from different weights do not compare. The
weights are the extractor's `revision`, so new weights make `index` embed videos again.

The extractor is registered through the `videolearn.extractors` entry point, like a
plug-in: the extractor layer does not import the learning layer.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from videolearn.config import Settings
from videolearn.extractors.base import (
    Embedding,
    Extractor,
    ExtractorPass,
    Sampling,
    Signal,
    VideoContext,
)
from videolearn.ingest.decode import AUDIO_RATE_HZ, FrameSampling, MediaChunk
from videolearn.types import TimeSpan

if TYPE_CHECKING:  # torch is imported when the extractor is built, not when it is listed
    from videolearn.learning.train import AudioVisualModel

DEFAULT_CHECKPOINT = Path(__file__).with_name("default_av.pt")
LIBRARY_CHECKPOINT = Path("models") / "av.pt"
_BATCH = 32


def embed_checkpoint(settings: Settings) -> Path:
    """The weights `av_embed` uses: the library's trained model, else the shipped one."""
    own = settings.library / LIBRARY_CHECKPOINT
    return own if own.is_file() else DEFAULT_CHECKPOINT


def embed_model_name(checkpoint: Path) -> str:
    """The name the vectors of a checkpoint's weights carry: its file name and digest."""
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:16]
    return f"{checkpoint.name}:{digest}"


class AvEmbedExtractor(Extractor):
    """Per-shot `av_video` and `av_audio` vectors from the learned audio-visual model.

    Construction reads the checkpoint's clip spec (and so imports torch): the frames this
    extractor asks the decoder for depend on it. The weights load in `load()`.
    """

    name = "av_embed"
    version = 1
    signal_type = Embedding
    family = "torch"
    needs = ("shots",)

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        from videolearn.errors import ExtractorError
        from videolearn.learning.train import checkpoint_config

        self.checkpoint = embed_checkpoint(settings)
        try:
            self.spec = checkpoint_config(self.checkpoint).spec
        except (OSError, RuntimeError, KeyError, TypeError, ValueError) as err:
            raise ExtractorError(
                f"av_embed: cannot read the model {self.checkpoint}: {err}; "
                "train again with `videolearn learn`, or delete it to use the shipped model"
            ) from err
        # Wide enough that a 16:9 picture's short side is at least the clip's side.
        width = math.ceil(self.spec.size_px * 16 / 9)
        self.sampling = Sampling(frames=FrameSampling(self.spec.fps, width + width % 2), audio=True)
        self.model_name = embed_model_name(self.checkpoint)
        self.revision = self.model_name  # new weights: videos are embedded again
        self._model: AudioVisualModel | None = None

    def load(self) -> None:
        if self._model is not None:
            return
        import torch

        from videolearn.learning.train import load_model

        torch.set_num_threads(self.settings.learn.embed_threads)
        self._model, _, _ = load_model(self.checkpoint)

    def begin(self, video: VideoContext) -> ExtractorPass:
        self.load()
        return _AvEmbedPass(self, video)

    def embed(self, clips: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """Backbone features of clips ((T, S, S, 3) uint8, (samples,) float32):
        (N, video dim) and (N, audio dim), float32."""
        import torch

        from videolearn.learning.data import to_video_tensor

        assert self._model is not None
        video = torch.stack([to_video_tensor(f) for f, _ in clips])
        audio = torch.from_numpy(np.stack([a for _, a in clips]))
        with torch.inference_mode():
            return (
                self._model.embed_video(video).float().numpy(),
                self._model.embed_audio(audio).float().numpy(),
            )


class _AvEmbedPass(ExtractorPass):
    """Buffers the decoded frames and sound, cuts a clip every `embed_every_s` once the
    media it covers has arrived, embeds clips in batches, keeps only the vectors."""

    def __init__(self, extractor: AvEmbedExtractor, video: VideoContext) -> None:
        self.ex = extractor
        self.spec = extractor.spec
        self.every_s = extractor.settings.learn.embed_every_s
        self.has_video = video.info.video is not None
        self.has_audio = video.info.audio is not None
        self.frames: list[np.ndarray] = []  # (S, S, 3) each
        self.times: list[float] = []
        self.audio: list[np.ndarray] = []  # int16, 16 kHz
        self.audio_start_s = 0.0  # media time of the first buffered sample
        self.next_s = 0.0
        self.pending: list[tuple[float, np.ndarray, np.ndarray]] = []
        self.starts: list[float] = []
        self.video_vectors: list[np.ndarray] = []
        self.audio_vectors: list[np.ndarray] = []

    def feed(self, chunk: MediaChunk) -> Iterable[Signal]:
        from videolearn.learning.data import centre_square, to_pcm16

        batch = self.ex.frames_of(chunk)
        if batch is not None and len(batch.frames):
            self.frames.extend(centre_square(batch.frames, self.spec.size_px))
            self.times.extend(batch.times_s.tolist())
        if chunk.audio is not None:
            if not self.audio:  # the first sound: where the buffer starts
                self.audio_start_s = chunk.audio.start_s
            self.audio.append(to_pcm16(chunk.audio.samples))  # as training decodes it
        while self.next_s + self.spec.duration_s <= chunk.end_s:
            self._cut(self.next_s)
            self.next_s += self.every_s
        self._drop_before(self.next_s)
        if len(self.pending) >= _BATCH:
            self._run()
        return ()

    def finish(self, end_s: float, earlier: Mapping[str, Sequence[Signal]]) -> Iterable[Signal]:
        if not self.starts and not self.pending:  # shorter than one clip: one padded clip
            self._cut(0.0)
        self._run()
        if not self.starts:
            return []
        starts = np.array(self.starts)
        centres = starts + self.spec.duration_s / 2
        spans = [s.span for s in earlier.get("shots", ())] or [TimeSpan(0.0, max(end_s, 1e-3))]
        out: list[Signal] = []
        for span in spans:
            inside = np.flatnonzero((centres >= span.start_s) & (centres < span.end_s))
            if not len(inside):  # a shot shorter than the clip spacing: the nearest clip
                mid = (span.start_s + span.end_s) / 2
                inside = np.array([int(np.abs(centres - mid).argmin())])
            for kind, vectors, present in (
                ("av_video", self.video_vectors, self.has_video),
                ("av_audio", self.audio_vectors, self.has_audio),
            ):
                if present:
                    mean = np.mean([vectors[i] for i in inside], axis=0)
                    vector = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
                    out.append(Embedding(span, kind, vector, self.ex.model_name))
        return out

    def _cut(self, start_s: float) -> None:
        """Queue the clip starting at `start_s` from what is buffered."""
        from videolearn.learning.data import DecodedMedia, window

        if self.has_video and not self.frames:
            return
        size = self.spec.size_px
        frames = np.stack(self.frames) if self.frames else np.zeros((1, size, size, 3), np.uint8)
        times = np.array(self.times) if self.times else np.zeros(1)
        samples = np.concatenate(self.audio) if self.audio else np.zeros(0, np.int16)
        media = DecodedMedia("", frames, times - self.audio_start_s, samples)
        clip_frames, clip_audio = window(media, start_s - self.audio_start_s, self.spec)
        self.pending.append((start_s, clip_frames, clip_audio))

    def _drop_before(self, start_s: float) -> None:
        """Forget frames and sound that no later clip needs."""
        keep = int(np.searchsorted(np.array(self.times), start_s - 1e-6)) if self.times else 0
        del self.frames[:keep], self.times[:keep]
        if self.audio:
            samples = np.concatenate(self.audio)
            drop = max(0, min(len(samples), round((start_s - self.audio_start_s) * AUDIO_RATE_HZ)))
            self.audio = [samples[drop:]]
            self.audio_start_s += drop / AUDIO_RATE_HZ

    def _run(self) -> None:
        if not self.pending:
            return
        video, audio = self.ex.embed([(f, a) for _, f, a in self.pending])
        self.starts.extend(s for s, _, _ in self.pending)
        self.video_vectors.extend(video)
        self.audio_vectors.extend(audio)
        self.pending.clear()
