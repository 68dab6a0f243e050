"""Probing and decoding one file with PyAV: frames at the samplings asked for, 16 kHz mono audio.

PyAV bundles FFmpeg and gives exact presentation timestamps. Times come from
`pts * time_base` minus the container's start time (frame counting is wrong on variable
frame rate). Corrupt packets are skipped and counted; the audio resampler is rebuilt when
the input format changes mid-file; a decode that ends well short of the container's
duration is reported as truncated. This module runs inside the decode child process
(`ingest.worker`), but works in-process too.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import av.error
import av.subtitles.stream
import numpy as np
from av.video.reformatter import VideoReformatter

from videolearn.config import DecodeLimits
from videolearn.errors import MediaError
from videolearn.types import AudioStreamInfo, Closing, MediaInfo, VideoStreamInfo

AUDIO_RATE_HZ = 16_000
# Container formats that read other files or URLs named inside them.
_REFUSED_FORMATS = frozenset({"hls", "concat", "dash", "applehttp", "ffconcat", "image2"})
_PROTOCOLS = "file"


@dataclass(frozen=True)
class FrameSampling:
    """Frames at `fps` per second (None: every frame), scaled to `width_px` (never up).

    `pixel_format` is "rgb24" or "bgr24" (what OpenCV-based consumers want: converting
    in the scaler is free, converting afterwards is a pass over every frame).
    """

    fps: float | None
    width_px: int
    pixel_format: str = "rgb24"


@dataclass(frozen=True)
class DecodeRequest:
    """What one decode pass produces. `chunk_s` is the media time per chunk handed on."""

    frames: tuple[FrameSampling, ...] = ()
    audio: bool = False
    chunk_s: float = 2.0


@dataclass(frozen=True)
class FrameBatch:
    """Consecutive sampled frames: `frames` (N, H, W, 3) uint8 RGB, `times_s` (N,)."""

    frames: np.ndarray
    times_s: np.ndarray


@dataclass(frozen=True)
class AudioBatch:
    """Contiguous 16 kHz mono float32 samples starting at `start_s`."""

    start_s: float
    samples: np.ndarray


@dataclass(frozen=True)
class MediaChunk:
    """Everything decoded for a stretch of media time up to `end_s`."""

    end_s: float
    frames: dict[FrameSampling, FrameBatch] = field(default_factory=dict)
    audio: AudioBatch | None = None


@dataclass(frozen=True)
class RawChunk:
    """A chunk whose frames are still separate arrays, `(H, W, 3)` each, with their times.

    The decode child writes these straight to its spill files; stacking them first would
    copy every frame once more.
    """

    end_s: float
    frames: dict[FrameSampling, tuple[list[np.ndarray], np.ndarray]]
    audio: AudioBatch | None

    def stacked(self) -> MediaChunk:
        return MediaChunk(
            end_s=self.end_s,
            frames={
                s: FrameBatch(np.stack(images), times) for s, (images, times) in self.frames.items()
            },
            audio=self.audio,
        )


@dataclass(frozen=True)
class DecodeReport:
    """How a decode pass went."""

    decoded_end_s: float
    video_frames: int
    audio_samples: int
    corrupt_packets: int
    # Display rotation of the decoded frames (PyAV exposes the display matrix on frames).
    rotation_deg: int = 0
    # Shown size after rotation; None when no frame was decoded.
    display_size_px: tuple[int, int] | None = None


def probe_container(container: Any, path: Path, size_bytes: int, limits: DecodeLimits) -> MediaInfo:
    """Describe an opened container and check it against the limits.

    Raises:
        MediaError: refused format, no audio or video stream, or over a limit.
    """
    fmt = container.format.name
    # image2 reads numbered sequences when the name holds a %d pattern; one image is fine.
    refused = _REFUSED_FORMATS - ({"image2"} if "%" not in path.name else set())
    if set(fmt.split(",")) & refused:
        raise MediaError(path, f"container format {fmt!r} refers to other files; not indexed")
    video = audio = None
    if container.streams.video:
        vs = container.streams.video[0]
        cc = vs.codec_context
        video = VideoStreamInfo(
            codec=cc.name,
            width_px=int(cc.width),
            height_px=int(cc.height),
            average_fps=float(vs.average_rate) if vs.average_rate else None,
        )
        if video.width_px * video.height_px > limits.max_pixels:
            raise MediaError(
                path,
                f"picture is {video.width_px}x{video.height_px}, over the limit of "
                f"{limits.max_pixels:,} pixels (decode.max_pixels)",
            )
    if container.streams.audio:
        aus = container.streams.audio[0]
        audio = AudioStreamInfo(
            codec=aus.codec_context.name,
            sample_rate_hz=int(aus.codec_context.sample_rate or 0),
            channels=int(aus.codec_context.channels or 0),
        )
    if video is None and audio is None:
        raise MediaError(path, "no audio or video stream in the file")
    duration_s = container.duration / 1e6 if container.duration else 0.0
    if duration_s <= 0:
        duration_s = max(
            (float(s.duration * s.time_base) for s in container.streams if s.duration),
            default=0.0,
        )
    if duration_s > limits.max_duration_s:
        raise MediaError(
            path,
            f"is {duration_s:,.0f} s long, over the duration limit of "
            f"{limits.max_duration_s:,.0f} s (decode.max_duration_s)",
        )
    return MediaInfo(
        container=fmt,
        duration_s=duration_s,
        size_bytes=size_bytes,
        bit_rate=int(container.bit_rate) if container.bit_rate else None,
        video=video,
        audio=audio,
        tags={str(k): str(v) for k, v in container.metadata.items()},
    )


class MediaReader(Closing):
    """One opened media file. Use `open_media`; iterate `iter_chunks`; read `report` after."""

    def __init__(self, path: Path, limits: DecodeLimits) -> None:
        self.path = path
        self.limits = limits
        size_bytes = path.stat().st_size
        _refuse_by_header(path, limits)
        try:
            self._container = av.open(
                str(path), options={"protocol_whitelist": _PROTOCOLS}, metadata_errors="replace"
            )
        except av.error.InvalidDataError:
            raise MediaError(path, _unrecognised(path, size_bytes)) from None
        except av.error.FFmpegError as err:
            raise MediaError(path, f"could not be opened: {_ffmpeg_reason(err)}") from None
        try:
            self.info = probe_container(self._container, path, size_bytes, limits)
        except BaseException:
            self._container.close()
            raise
        self.report: DecodeReport | None = None

    def close(self) -> None:
        self._container.close()

    def iter_chunks(self, request: DecodeRequest) -> Iterator[MediaChunk]:
        """Decode the file once and yield chunks of about `request.chunk_s` media seconds.

        Audio is decoded when asked for, and always for audio-only files so that a
        broken file is noticed. Raises MediaError when nothing decodes or the file is
        truncated.
        """
        for raw in self.iter_raw_chunks(request):
            yield raw.stacked()

    def iter_raw_chunks(self, request: DecodeRequest) -> Iterator[RawChunk]:
        """`iter_chunks` with each chunk's frames as a list of separate arrays.

        Audio is decoded when asked for, and always for audio-only files so that a
        broken file is noticed. Raises MediaError when nothing decodes or the file is
        truncated.
        """
        container = self._container
        origin_s = container.start_time / 1e6 if container.start_time else 0.0
        vstream = container.streams.video[0] if container.streams.video else None
        astream = container.streams.audio[0] if container.streams.audio else None
        want_video = vstream is not None and bool(request.frames)
        want_audio = astream is not None and (request.audio or vstream is None)
        streams = [s for s, on in ((vstream, want_video), (astream, want_audio)) if on]
        if vstream is not None and not streams:
            streams = [vstream]  # decode to validate even when nobody needs frames
            want_video = True
        if vstream is not None:
            vstream.thread_count = self.limits.threads
        frames = _FrameCollector(request.frames, self.info) if want_video else None
        audio = _AudioCollector() if want_audio else None
        corrupt = 0
        first_error = ""
        next_chunk_s = request.chunk_s
        position_s = 0.0
        # Streams nobody asked for are demuxed but not decoded: where their packets end
        # says how far the file goes. A file is truncated, not a stream that ends early
        # (sound shorter than picture, or longer).
        skipped = [s for s in (vstream, astream) if s is not None and s not in streams]
        skipped_end_s = 0.0
        # demux() ends with an empty packet per stream, whose decode flushes that decoder.
        for packet in container.demux(streams + skipped):
            if packet.stream in skipped:
                if packet.pts is not None:
                    packet_end = (packet.pts + (packet.duration or 0)) * packet.time_base
                    skipped_end_s = max(skipped_end_s, float(packet_end) - origin_s)
                continue
            try:
                decoded: list[Any] = list(packet.decode())
            except MemoryError:
                raise  # av.error.MemoryError (ENOMEM) is an FFmpegError too: not corruption
            except (av.error.FFmpegError, ValueError) as err:
                corrupt += 1
                first_error = first_error or str(err)
                continue
            for frame in decoded:
                if frame.pts is None:
                    continue
                t = float(frame.time) - origin_s
                if packet.stream is vstream and frames is not None:
                    frames.add(frame, t)
                elif audio is not None:
                    audio.add(frame, t)
                position_s = max(position_s, t)
            if position_s >= next_chunk_s:
                yield _take_chunk(position_s, frames, audio)
                next_chunk_s = position_s + request.chunk_s
        if audio is not None:
            audio.flush()
        video_end = frames.end_s if frames else 0.0
        audio_end = audio.end_s if audio else 0.0
        end_s = max(video_end, audio_end)
        self.report = DecodeReport(
            decoded_end_s=end_s,
            video_frames=frames.count if frames else 0,
            audio_samples=audio.total if audio else 0,
            corrupt_packets=corrupt,
            rotation_deg=frames.rotation_deg if frames else 0,
            display_size_px=frames.display_size_px if frames else None,
        )
        yield _take_chunk(end_s, frames, audio)
        if self.report.video_frames == 0 and self.report.audio_samples == 0:
            if not corrupt:
                raise MediaError(self.path, "holds no picture or sound: its streams are empty")
            raise MediaError(
                self.path,
                f"no decodable streams: {corrupt} packets failed to decode and none gave "
                f"a picture or sound (first error: {first_error or 'none'})",
            )
        expected_s = self.info.duration_s
        file_end_s = max(end_s, skipped_end_s)
        if expected_s > 0 and file_end_s < expected_s - max(1.0, 0.05 * expected_s):
            raise MediaError(
                self.path,
                f"truncated: decoding stopped at {file_end_s:.1f} s of the {expected_s:.1f} s "
                "the container declares",
            )


def open_media(path: Path, limits: DecodeLimits) -> MediaReader:
    """Open and probe a media file. Close it (or use `with`) when done.

    Raises:
        MediaError: the file is not media, has no streams, or breaks a limit.
    """
    return MediaReader(path, limits)


# What a file's first bytes say it is, where FFmpeg's own error would not: playlists
# (FFmpeg refuses their paths with "operation not permitted", or fails on a network address
# as "invalid data") and raw YUV4MPEG2 (a huge declared picture fails as "device or
# resource busy").
_PLAYLISTS = {b"ffconcat": "an ffconcat list", b"#EXTM3U": "an M3U playlist"}
_Y4M = re.compile(rb"^YUV4MPEG2 (?:[^\n]* )?W(\d+) (?:[^\n]* )?H(\d+)")


def _refuse_by_header(path: Path, limits: DecodeLimits) -> None:
    """Refuse a playlist (it refers to other files) and a YUV4MPEG2 file whose declared
    picture is over `decode.max_pixels`, before FFmpeg opens them.

    Raises:
        MediaError: the file is one of those.
    """
    with path.open("rb") as f:
        head = f.read(256)
    for magic, kind in _PLAYLISTS.items():
        if head.startswith(magic):
            raise MediaError(path, f"{kind}: it refers to other files; not indexed")
    found = _Y4M.match(head)
    if found:
        width, height = int(found[1]), int(found[2])
        if width * height > limits.max_pixels:
            raise MediaError(
                path,
                f"picture is {width}x{height}, over the limit of {limits.max_pixels:,} pixels "
                "(decode.max_pixels)",
            )


def _unrecognised(path: Path, size_bytes: int) -> str:
    """Why FFmpeg found no format: an MP4 or MOV cut short before its index (the `moov`
    box, which most writers put last), or not a media file."""
    boxes, past_end = _top_level_boxes(path, size_bytes)
    if boxes[:1] == [b"ftyp"] and (b"moov" not in boxes or past_end):
        return (
            "cut short: an MP4 or MOV file without its index (the moov box, written at "
            "the end), so nothing in it can be found; was it copied or written to its end?"
        )
    return "not a media file: FFmpeg recognised no format in it"


def _top_level_boxes(path: Path, size_bytes: int, most: int = 64) -> tuple[list[bytes], bool]:
    """The types of an ISO media file's first `most` top-level boxes, and whether the last
    one read runs past the file's end (or its size makes no sense)."""
    kinds: list[bytes] = []
    at = 0
    with path.open("rb") as f:
        while at + 8 <= size_bytes and len(kinds) < most:
            f.seek(at)
            head = f.read(16)
            length, kind = struct.unpack(">I4s", head[:8])
            if length == 1 and len(head) == 16:
                length = struct.unpack(">Q", head[8:])[0]
            elif length == 0:  # to the end of the file
                length = size_bytes - at
            kinds.append(kind)
            if length < 8:
                return kinds, True
            at += length
    return kinds, at > size_bytes


def _ffmpeg_reason(err: av.error.FFmpegError) -> str:
    text = getattr(err, "strerror", None) or str(err)
    return str(text).rstrip(".").lower()


def _take_chunk(
    end_s: float, frames: _FrameCollector | None, audio: _AudioCollector | None
) -> RawChunk:
    return RawChunk(
        end_s=end_s,
        frames=frames.take() if frames else {},
        audio=audio.take() if audio else None,
    )


class _FrameCollector:
    """Picks frames for each sampling by timestamp, scales and rotates them."""

    def __init__(self, samplings: tuple[FrameSampling, ...], info: MediaInfo) -> None:
        assert info.video is not None
        self.samplings = samplings
        self.info = info
        self.reformatter = VideoReformatter()
        self.next_s = {s: 0.0 for s in samplings}
        self.buffers: dict[FrameSampling, tuple[list[np.ndarray], list[float]]] = {
            s: ([], []) for s in samplings
        }
        self.count = 0
        self.end_s = 0.0
        self.rotation_deg = 0
        self.display_size_px: tuple[int, int] | None = None
        fps = info.video.average_fps
        self.frame_duration_s = 1.0 / fps if fps else 0.0

    def add(self, frame: Any, t: float) -> None:
        if self.count == 0:
            self.rotation_deg = int(getattr(frame, "rotation", 0) or 0)
            turned = round(self.rotation_deg / 90) % 2
            size = (frame.width, frame.height)
            self.display_size_px = (size[1], size[0]) if turned else size
        self.count += 1
        self.end_s = max(self.end_s, t + self.frame_duration_s)
        for sampling in self.samplings:
            if sampling.fps is not None:
                # Half a frame of slack so that 30 fps sources give exact 1 fps samples.
                if t + 0.5 * self.frame_duration_s < self.next_s[sampling]:
                    continue
                step = 1.0 / sampling.fps
                self.next_s[sampling] = (math.floor(t / step + 1e-6) + 1) * step
            images, times = self.buffers[sampling]
            images.append(self._picture(frame, sampling.width_px, sampling.pixel_format))
            times.append(t)

    def _picture(self, frame: Any, width_px: int, pixel_format: str) -> np.ndarray:
        rotation = int(getattr(frame, "rotation", 0) or 0)
        quarter_turns = round(rotation / 90) % 4
        coded_w, coded_h = frame.width, frame.height
        shown_w, shown_h = (coded_h, coded_w) if quarter_turns % 2 else (coded_w, coded_h)
        out_w = min(width_px, shown_w)
        out_h = max(2, round(out_w * shown_h / shown_w / 2) * 2)
        out_w = max(2, out_w - out_w % 2)
        scaled_w, scaled_h = (out_h, out_w) if quarter_turns % 2 else (out_w, out_h)
        image = self.reformatter.reformat(
            frame, width=scaled_w, height=scaled_h, format=pixel_format
        ).to_ndarray()
        if quarter_turns:
            return np.ascontiguousarray(np.rot90(image, k=quarter_turns))
        # Odd widths come back as a view on padded rows: make each frame one block.
        return np.ascontiguousarray(image)

    def take(self) -> dict[FrameSampling, tuple[list[np.ndarray], np.ndarray]]:
        out = {}
        for sampling, (images, times) in self.buffers.items():
            if images:
                out[sampling] = (images, np.asarray(times, dtype=np.float64))
            self.buffers[sampling] = ([], [])
        return out


class _AudioCollector:
    """Resamples to 16 kHz mono float32; rebuilds the resampler when the input changes."""

    def __init__(self) -> None:
        self.resampler: Any = None
        self.input_format: tuple[str, str, int] | None = None
        self.start_s: float | None = None
        self.total = 0
        self.sent = 0
        self.pending: list[np.ndarray] = []

    def add(self, frame: Any, t: float) -> None:
        fmt = (frame.format.name, frame.layout.name, int(frame.sample_rate))
        if fmt != self.input_format:
            self.flush()
            # 16-bit like faster-whisper's own decode_audio: the same samples give Whisper
            # the same input, and its decoding is sensitive to tiny differences.
            self.resampler = av.AudioResampler(format="s16", layout="mono", rate=AUDIO_RATE_HZ)
            self.input_format = fmt
        if self.start_s is None:
            self.start_s = max(0.0, t)
        for out in self.resampler.resample(frame):
            self._keep(out)

    def flush(self) -> None:
        if self.resampler is not None:
            for out in self.resampler.resample(None):
                self._keep(out)
            self.resampler = None
            self.input_format = None

    def _keep(self, out: Any) -> None:
        samples = out.to_ndarray().reshape(-1).astype(np.float32) / 32768.0
        self.pending.append(samples)
        self.total += samples.size

    @property
    def end_s(self) -> float:
        return (self.start_s or 0.0) + self.total / AUDIO_RATE_HZ

    def take(self) -> AudioBatch | None:
        if not self.pending:
            return None
        samples = np.concatenate(self.pending)
        self.pending = []
        batch = AudioBatch((self.start_s or 0.0) + self.sent / AUDIO_RATE_HZ, samples)
        self.sent += samples.size
        return batch
