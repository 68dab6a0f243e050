"""The picture a video shows at a moment, as a small JPEG: what a search result shows for
the moment it found, where a shot's thumbnail shows the middle of the shot (a caption
read at 0:06 is not on the frame from 0:03).

A still is decoded on demand in a child process held to the decode limits (every decode of
a file is, however it was indexed before): it seeks to the key frame before the moment and
decodes up to the frame shown then, so an hour-long file costs as much as a short one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from videolearn.config import DecodeLimits
from videolearn.errors import MediaError

# A still is decoded at most this long (a seek lands on a key frame; the frames from there
# to the moment are decoded).
STILL_WALL_S = 30.0


def still_here(source: Path, time_s: float, width_px: int, quality: int) -> bytes:
    """The JPEG of the frame `source` shows at `time_s` (its last frame when the moment
    lies beyond), `width_px` wide at most, decoded in this process.

    Raises:
        MediaError: the file has no picture, or none could be decoded.
    """
    import av
    import cv2

    with av.open(str(source), options={"protocol_whitelist": "file"}) as container:
        if not container.streams.video:
            raise MediaError(source, "has no picture to show")
        stream = container.streams.video[0]
        stream.thread_type = "NONE"
        base = stream.time_base
        start_s = float(stream.start_time * base) if stream.start_time and base else 0.0
        if base and time_s > 0:
            container.seek(int((start_s + time_s) / base), stream=stream)
        shown: np.ndarray | None = None
        for frame in container.decode(stream):
            at_s = float(frame.time or 0.0) - start_s
            if shown is not None and at_s > time_s:
                break
            shown = frame.to_ndarray(format="bgr24")
        if shown is None:
            raise MediaError(source, f"no frame could be decoded near {time_s:.2f} s")
    height, width = shown.shape[:2]
    if width > width_px:
        size = (width_px, max(1, round(height * width_px / width)))
        shown = cv2.resize(shown, size, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", shown, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise MediaError(source, "the still could not be encoded as a JPEG")
    return bytes(data.tobytes())


def still_at(
    source: Path, time_s: float, width_px: int, quality: int, limits: DecodeLimits
) -> bytes:
    """`still_here` in a child process under the decode limits.

    Raises:
        MediaError: no still could be made; the reason says why.
    """
    from videolearn.ingest.worker import run_limited

    wall_s = min(limits.wall_s, STILL_WALL_S)
    args = (source, time_s, width_px, quality)
    return bytes(
        run_limited(still_here, args, limits, wall_s, source, f"a still at {time_s:.2f} s")
    )
