"""Nudity: NudeNet's detector on sampled frames, a moment per class while it stays.

Optional: `pip install 'videolearn[nsfw]'` installs `nudenet` 3.4.x, whose bundled
`320n.onnx` detector finds 18 classes of exposed and covered body parts and faces. Its
wheel's metadata says MIT, but its license files are AGPL-3.0. The extractor exists only
where `nudenet` is installed.

Frames at `nudity.sample_fps` (1 a second) go through the detector (onnxruntime on
`nudity.threads` threads); a class in `nudity.classes` scoring at least
`nudity.threshold` in consecutive sampled frames is one `nudity` moment: the class as its
label, the highest score, and that frame's box (fractions of the frame).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videolearn.config import NuditySettings, Settings
from videolearn.errors import ExtractorError
from videolearn.extractors.base import (
    Extractor,
    ExtractorPass,
    Moment,
    Sampling,
    Signal,
    VideoContext,
)
from videolearn.extractors.runs import RunTracker
from videolearn.ingest.decode import FrameSampling, MediaChunk
from videolearn.types import TimeSpan

WIDTH_PX = 640  # the detector looks at 320 x 320; a little more keeps small parts


def nudenet_installed() -> bool:
    return importlib.util.find_spec("nudenet") is not None


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the frame


class NudeNet:
    """NudeNet's detector with its onnxruntime session pinned to `threads` threads."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._detector: Any = None

    def load(self) -> None:
        if self._detector is not None:
            return
        try:
            import nudenet
            import onnxruntime as ort
        except ImportError as err:
            raise ExtractorError(
                "the nudity extractor needs the nsfw extra: pip install 'videolearn[nsfw]'"
            ) from err
        model = Path(nudenet.__file__).parent / "320n.onnx"
        detector = nudenet.NudeDetector(model_path=str(model))
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        # NudeDetector takes no session options: its session is replaced by one that
        # keeps to our threads (same model file, same input name).
        detector.onnx_session = ort.InferenceSession(
            str(model), options, providers=["CPUExecutionProvider"]
        )
        self._detector = detector

    def detect(self, bgr: np.ndarray) -> list[Detection]:
        self.load()
        height, width = bgr.shape[:2]
        out = []
        for d in self._detector.detect(bgr):
            x, y, w, h = d["box"]
            box = (x / width, y / height, (x + w) / width, (y + h) / height)
            out.append(
                Detection(
                    str(d["class"]),
                    float(d["score"]),
                    (round(box[0], 4), round(box[1], 4), round(box[2], 4), round(box[3], 4)),
                )
            )
        return out


class NudityExtractor(Extractor):
    """Exposed body parts (NudeNet) as `nudity` moments with class, score and box."""

    name = "nudity"
    version = 1
    signal_type = Moment
    family = "onnxruntime"

    @classmethod
    def installed(cls) -> bool:
        return nudenet_installed()  # the optional nsfw extra

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.options: NuditySettings = settings.nudity
        self.sampling = Sampling(frames=FrameSampling(self.options.sample_fps, WIDTH_PX, "bgr24"))
        self.model = NudeNet(self.options.threads)

    def load(self) -> None:
        self.model.load()

    def begin(self, video: VideoContext) -> ExtractorPass:
        return _NudityPass(self)


class _NudityPass(ExtractorPass):
    def __init__(self, extractor: NudityExtractor) -> None:
        self.extractor = extractor
        self.options = extractor.options
        self.tracker = RunTracker[Detection](
            1.0 / self.options.sample_fps,
            lambda a, b: a.label == b.label,
            lambda d: d.score,
            _moment,
        )
        self.last_s = 0.0

    def feed(self, chunk: MediaChunk) -> Iterable[Signal]:
        batch = self.extractor.frames_of(chunk)
        if batch is None:
            return ()
        o = self.options
        for image, time_s in zip(batch.frames, batch.times_s, strict=True):
            t = float(time_s)
            self.last_s = t
            best: dict[str, Detection] = {}
            for d in self.extractor.model.detect(image):
                counts = d.label in o.classes and d.score >= o.threshold
                if counts and (d.label not in best or d.score > best[d.label].score):
                    best[d.label] = d
            self.tracker.reading(t, list(best.values()))
        return ()

    def finish(self, end_s: float, earlier: Mapping[str, Sequence[Signal]]) -> Iterable[Signal]:
        found = self.tracker.finish(max(end_s, self.last_s))
        return sorted(found, key=lambda m: (m.span.start_s, m.label))


def _moment(d: Detection, span: TimeSpan) -> Moment:
    return Moment(
        span, "nudity", label=d.label, score=round(d.score, 4), attrs={"box": list(d.box)}
    )
