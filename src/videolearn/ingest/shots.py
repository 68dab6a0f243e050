"""Shot boundaries with PySceneDetect's ContentDetector, fed with frames we decoded.

PySceneDetect is the field's standard cut detector; using its detector directly (not its
video backends) keeps one decode pass for every extractor. Frames carry their own
timestamps, so shots are right on variable frame rate too.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import cv2
import numpy as np
from scenedetect.common import FrameTimecode, Timecode
from scenedetect.detectors import ContentDetector

from videolearn.types import TimeSpan

# Microsecond time base for the timecodes we hand PySceneDetect.
_TIME_BASE = Fraction(1, 1_000_000)


class ShotDetector:
    """Feed frames in time order with `add`, then call `finish` for the shots.

    Args:
        threshold: ContentDetector's score threshold (27 is PySceneDetect's default).
        min_shot_s: shortest shot; closer cuts are merged.
        fps_hint: the source's average frame rate (PySceneDetect needs one for its
            timecodes; our times come from pts, not from it).
    """

    def __init__(self, threshold: float, min_shot_s: float, fps_hint: float) -> None:
        self._detector = ContentDetector(threshold=threshold, min_scene_len=float(min_shot_s))
        self._fps = Fraction(fps_hint).limit_denominator(1001) if fps_hint > 0 else Fraction(25)
        self._cuts_s: list[float] = []
        self._last_s = 0.0
        self._seen_any = False

    def _timecode(self, t_s: float) -> FrameTimecode:
        return FrameTimecode(Timecode(round(max(0.0, t_s) * 1_000_000), _TIME_BASE), self._fps)

    def add(self, frame_rgb: np.ndarray, t_s: float) -> None:
        """One frame, (H, W, 3) uint8 RGB, at `t_s` seconds."""
        self.add_bgr(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR), t_s)

    def add_bgr(self, frame_bgr: np.ndarray, t_s: float) -> None:
        """One frame, (H, W, 3) uint8 BGR (OpenCV's order), at `t_s` seconds."""
        for cut in self._detector.process_frame(self._timecode(t_s), frame_bgr):
            self._cuts_s.append(cut.seconds)
        self._last_s = t_s
        self._seen_any = True

    def finish(self, end_s: float) -> list[TimeSpan]:
        """Shots covering [0, end_s]; none when no frame was added."""
        if not self._seen_any:
            return []
        for cut in self._detector.post_process(self._timecode(self._last_s)):
            self._cuts_s.append(cut.seconds)
        end_s = max(end_s, self._last_s)
        bounds = [0.0, *sorted(c for c in self._cuts_s if 0.0 < c < end_s), end_s]
        return [TimeSpan(a, b) for a, b in itertools.pairwise(bounds) if b > a]
