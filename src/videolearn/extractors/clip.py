"""Image-text vectors from a CLIP model the user has: text-to-frame search.

Optional: `pip install 'videolearn[clip]'` installs transformers, whose CLIP loads the
models published in Hugging Face format (OpenAI's, LAION's, ...) without torchvision. No
weights ship with videolearn and none are downloaded: `clip.model` names a folder, or a
hub name already in the local Hugging Face cache. The extractor runs only when it is set.

Frames at `clip.sample_fps` (one every 2 s) are resized so that their short side is the
model's image size, cut to the centre square and normalised with the model's mean and
deviation (its `preprocessor_config.json`, else CLIP's), then embedded by the image tower;
each frame's unit vector is stored as a `clip_image` embedding spanning until the next
sampled frame. Search embeds a query with the same model's text tower.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from videolearn.config import ClipSettings, Settings
from videolearn.errors import ExtractorError
from videolearn.extractors.base import (
    Embedding,
    Extractor,
    ExtractorPass,
    Sampling,
    Signal,
    VideoContext,
)
from videolearn.ingest.decode import FrameSampling, MediaChunk
from videolearn.types import TimeSpan

KIND = "clip_image"
# The image side of OpenAI's and LAION's CLIPs, before a model says its own.
USUAL_IMAGE_SIZE = 224
# OpenAI CLIP's normalisation, for a model folder without a preprocessor config.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def transformers_installed() -> bool:
    return importlib.util.find_spec("transformers") is not None


def model_folder(model: str) -> Path:
    """The local folder of `model`: itself when it is a folder, else its snapshot in the
    local Hugging Face cache.

    Raises:
        ExtractorError: neither.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(model, local_files_only=True))
    except (LocalEntryNotFoundError, ValueError, OSError) as err:
        raise ExtractorError(
            f"clip.model {model!r} is neither a folder nor in the local Hugging Face cache; "
            "videolearn never downloads models"
        ) from err


class ClipModel:
    """A CLIP model's two towers, loaded from a local folder, on the CPU."""

    def __init__(self, model: str, threads: int = 1) -> None:
        self.model = model
        self.threads = threads
        self._net: Any = None
        self._tokenizer: Any = None
        self.image_size = USUAL_IMAGE_SIZE
        self.mean = np.array(CLIP_MEAN, np.float32)
        self.std = np.array(CLIP_STD, np.float32)

    @cached_property
    def folder(self) -> Path:
        return model_folder(self.model)

    @cached_property
    def name(self) -> str:
        """The model and a digest of its files' names and sizes: new weights, new name."""
        files = sorted((p.name, p.stat().st_size) for p in self.folder.iterdir() if p.is_file())
        digest = hashlib.sha256(json.dumps(files).encode()).hexdigest()[:16]
        return f"{Path(self.model).name or self.model}:{digest}"

    def load(self) -> None:
        if self._net is not None:
            return
        if not transformers_installed():
            raise ExtractorError(
                "the clip extractor needs the clip extra: pip install 'videolearn[clip]'"
            )
        import torch
        from transformers import AutoTokenizer, CLIPModel

        folder = self.folder
        torch.set_num_threads(self.threads)
        try:
            net: Any = CLIPModel.from_pretrained(str(folder), local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError, KeyError) as err:
            raise ExtractorError(f"could not load the CLIP model {self.model!r}: {err}") from err
        self.image_size = int(net.config.vision_config.image_size)
        processor = folder / "preprocessor_config.json"
        if processor.is_file():
            config = json.loads(processor.read_text())
            self.mean = np.array(config.get("image_mean", CLIP_MEAN), np.float32)
            self.std = np.array(config.get("image_std", CLIP_STD), np.float32)
        self._net = net.eval()
        self._tokenizer = tokenizer

    def preprocess(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """RGB frames (H, W, 3) uint8 as the model's input: (N, 3, S, S) float32, each
        resized so that its short side is S, cut to the centre square, normalised."""
        import cv2

        size = self.image_size
        out = np.empty((len(frames), 3, size, size), np.float32)
        for i, frame in enumerate(frames):
            h, w = frame.shape[:2]
            scale = size / min(h, w)
            rw, rh = max(size, round(w * scale)), max(size, round(h * scale))
            resized = cv2.resize(frame, (rw, rh), interpolation=cv2.INTER_AREA)
            top, left = (rh - size) // 2, (rw - size) // 2
            square = resized[top : top + size, left : left + size].astype(np.float32) / 255
            out[i] = ((square - self.mean) / self.std).transpose(2, 0, 1)
        return out

    def images(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """Unit image vectors of RGB frames: (N, D) float32."""
        import torch

        self.load()
        pixels = torch.from_numpy(self.preprocess(frames))
        with torch.inference_mode():
            vectors = self._net.get_image_features(pixel_values=pixels)
        return _unit(_tensor(vectors))

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        """Unit text vectors: (N, D) float32."""
        import torch

        self.load()
        tokens = self._tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt")
        with torch.inference_mode():
            vectors = self._net.get_text_features(
                input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
            )
        return _unit(_tensor(vectors))


def _tensor(output: Any) -> np.ndarray:
    """The features of a `get_*_features` call (a tensor, or an output holding it)."""
    if hasattr(output, "pooler_output"):
        output = output.pooler_output
    return np.asarray(output.float().numpy(), np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return np.asarray(x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12), np.float32)


class ClipExtractor(Extractor):
    """A CLIP image vector per sampled frame, as `clip_image` embeddings."""

    name = "clip"
    # 2: the last frame's span ends where the video ends, not a sampling step after it.
    version = 2
    signal_type = Embedding
    family = "torch"

    @classmethod
    def installed(cls) -> bool:
        return transformers_installed()  # the optional clip extra

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.options: ClipSettings = settings.clip
        if not self.options.model:
            raise ExtractorError(
                "the clip extractor needs clip.model: a CLIP model folder in Hugging Face "
                "format, or a hub name in the local cache"
            )
        self.model = ClipModel(self.options.model, self.options.threads)
        self.revision = self.model.name
        # Wide enough that a 16:9 picture's short side is at least a usual model's image
        # size (a model's own size is known only once it is loaded).
        width = math.ceil(USUAL_IMAGE_SIZE * 16 / 9)
        self.sampling = Sampling(frames=FrameSampling(self.options.sample_fps, width + width % 2))

    @classmethod
    def configured(cls, settings: Settings) -> bool:
        return bool(settings.clip.model)

    def load(self) -> None:
        self.model.load()

    def begin(self, video: VideoContext) -> ExtractorPass:
        self.load()
        return _ClipPass(self)


class _ClipPass(ExtractorPass):
    def __init__(self, extractor: ClipExtractor) -> None:
        self.ex = extractor
        self.step_s = 1.0 / extractor.options.sample_fps
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self.out: list[Signal] = []

    def feed(self, chunk: MediaChunk) -> Iterable[Signal]:
        batch = self.ex.frames_of(chunk)
        if batch is not None:
            self.frames.extend(batch.frames)
            self.times.extend(float(t) for t in batch.times_s)
        if len(self.frames) >= self.ex.options.batch:
            self._run()
        return ()

    def finish(self, end_s: float, earlier: Mapping[str, Sequence[Signal]]) -> Iterable[Signal]:
        self._run()
        out = self.out
        # Each frame stands for the time until the next one (the last until the end).
        for i, e in enumerate(out):
            assert isinstance(e, Embedding)
            # (Not past the end: a frame's first span runs one sampling step, which can
            # reach beyond a short video.)
            nxt = out[i + 1].span.start_s if i + 1 < len(out) else end_s
            out[i] = Embedding(
                TimeSpan(e.span.start_s, max(e.span.start_s, nxt)), e.kind, e.vector, e.model
            )
        return out

    def _run(self) -> None:
        if not self.frames:
            return
        vectors = self.ex.model.images(self.frames)
        name = self.ex.revision
        for t, v in zip(self.times, vectors, strict=True):
            self.out.append(Embedding(TimeSpan(t, t + self.step_s), KIND, v, name))
        self.frames, self.times = [], []
