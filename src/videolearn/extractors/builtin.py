"""The foundation's extractors: file digests, media description, shots, thumbnails."""

from __future__ import annotations

import dataclasses
import json
from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence

import cv2
import numpy as np

from videolearn.config import Settings
from videolearn.extractors.base import (
    Extractor,
    ExtractorPass,
    Moment,
    Sampling,
    Signal,
    Thumbnail,
    ValueSignal,
    VideoContext,
)
from videolearn.ingest.decode import FrameSampling, MediaChunk
from videolearn.ingest.shots import ShotDetector
from videolearn.types import TimeSpan


class WholeFileExtractor(Extractor):
    """An extractor whose signals span the whole file and need no decoded media: it
    works from the file's identity and probe, once decoding has ended."""

    signal_type = ValueSignal

    def begin(self, video: VideoContext) -> ExtractorPass:
        return _WholeFilePass(self, video)

    @abstractmethod
    def signals(self, video: VideoContext, span: TimeSpan) -> list[Signal]:
        """The signals for `video`, each over `span` (the whole file)."""


class _WholeFilePass(ExtractorPass):
    def __init__(self, extractor: WholeFileExtractor, video: VideoContext) -> None:
        self.extractor = extractor
        self.video = video

    def finish(self, end_s: float, earlier: Mapping[str, Sequence[Signal]]) -> Iterable[Signal]:
        whole = TimeSpan(0.0, max(end_s, self.video.info.duration_s))
        return self.extractor.signals(self.video, whole)


class FileHashExtractor(WholeFileExtractor):
    """sha256 and md5 of the file's bytes (computed while identifying the file)."""

    name = "file_hash"
    version = 1

    def signals(self, video: VideoContext, span: TimeSpan) -> list[Signal]:
        return [
            ValueSignal(span, "sha256", video.identity.sha256),
            ValueSignal(span, "md5", video.identity.md5),
        ]


class MediaInfoExtractor(WholeFileExtractor):
    """The container's description of the file, as one JSON value."""

    name = "media_info"
    version = 1

    def signals(self, video: VideoContext, span: TimeSpan) -> list[Signal]:
        value = json.dumps(dataclasses.asdict(video.info), sort_keys=True)
        return [ValueSignal(span, "media_info", value)]


class ShotsExtractor(Extractor):
    """Shot boundaries from PySceneDetect's ContentDetector on every frame."""

    name = "shots"
    version = 1
    signal_type = Moment

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.sampling = Sampling(
            frames=FrameSampling(settings.shot_fps, settings.shot_width_px, "bgr24")
        )

    def begin(self, video: VideoContext) -> ExtractorPass:
        return _ShotsPass(self, video)


class _ShotsPass(ExtractorPass):
    def __init__(self, extractor: ShotsExtractor, video: VideoContext) -> None:
        self.extractor = extractor
        fps = video.info.video.average_fps if video.info.video else None
        s = extractor.settings
        self.detector = ShotDetector(s.shot_threshold, s.shot_min_len_s, fps or 25.0)

    def feed(self, chunk: MediaChunk) -> Iterable[Signal]:
        batch = self.extractor.frames_of(chunk)
        if batch is not None:
            for image, t in zip(batch.frames, batch.times_s, strict=True):
                self.detector.add_bgr(image, float(t))
        return ()

    def finish(self, end_s: float, earlier: Mapping[str, Sequence[Signal]]) -> Iterable[Signal]:
        return [
            Moment(span, "shot", label=f"shot {i + 1}")
            for i, span in enumerate(self.detector.finish(end_s))
        ]


class ThumbnailsExtractor(Extractor):
    """A small JPEG per shot: the sampled frame nearest the middle of the shot."""

    name = "thumbnails"
    version = 1
    signal_type = Thumbnail
    needs = ("shots",)
    # Candidate frames per second kept while decoding, as JPEG bytes.
    candidates_fps = 2.0

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.sampling = Sampling(
            frames=FrameSampling(self.candidates_fps, settings.thumbnail_width_px)
        )

    def begin(self, video: VideoContext) -> ExtractorPass:
        return _ThumbnailsPass(self)


class _ThumbnailsPass(ExtractorPass):
    def __init__(self, extractor: ThumbnailsExtractor) -> None:
        self.extractor = extractor
        self.quality = extractor.settings.thumbnail_jpeg_quality
        self.candidates: list[tuple[float, bytes, int, int]] = []

    def feed(self, chunk: MediaChunk) -> Iterable[Signal]:
        batch = self.extractor.frames_of(chunk)
        if batch is not None:
            for image, t in zip(batch.frames, batch.times_s, strict=True):
                self.candidates.append((float(t), *self._jpeg(image)))
        return ()

    def _jpeg(self, image: np.ndarray) -> tuple[bytes, int, int]:
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise RuntimeError("OpenCV could not encode a JPEG")
        return bytes(data.tobytes()), int(image.shape[1]), int(image.shape[0])

    def finish(self, end_s: float, earlier: Mapping[str, Sequence[Signal]]) -> Iterable[Signal]:
        if not self.candidates:
            return []
        times = np.array([c[0] for c in self.candidates])
        out: list[Signal] = []
        for shot in earlier.get("shots", ()):
            middle_s = (shot.span.start_s + shot.span.end_s) / 2
            _, jpeg, w, h = self.candidates[int(np.argmin(np.abs(times - middle_s)))]
            out.append(Thumbnail(shot.span, jpeg, w, h))
        return out
