"""A version of a file that browsers play: which files need one, and making it (remuxed
into MP4 when its streams are ones browsers decode, else transcoded to H.264 and AAC),
in a child process with the decode limits, as every decode of a file is.

Browsers play MP4 with H.264, VP9 or AV1 video and AAC, MP3, Opus or FLAC sound; WebM;
and MP3, FLAC, WAV, Ogg and M4A sound files. Matroska, AVI, MPEG-TS, WMV and the rest
need a version made for them; so do MP4s whose streams browsers do not decode (MPEG-4
Part 2, HEVC, AC-3). PyAV does both: a remux copies the packets (seconds for an hour of
video), a transcode encodes with libx264's `veryfast` preset at CRF 23, at most 1280
pixels wide, and AAC at 128 kb/s, skipping the packets that do not decode as indexing
does (a corrupt AC-3 packet in Megamind.avi).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any

from videolearn.config import DecodeLimits

MP4_VIDEO = frozenset({"h264", "vp9", "av1"})
MP4_AUDIO = frozenset({"aac", "mp3", "opus", "flac"})
WEBM_VIDEO = frozenset({"vp8", "vp9", "av1"})
WEBM_AUDIO = frozenset({"vorbis", "opus"})
# Sound-only files by extension, and the codecs browsers play in them.
SOUND_FILES = {
    ".mp3": frozenset({"mp3"}),
    ".flac": frozenset({"flac"}),
    ".wav": frozenset({"pcm_s16le", "pcm_u8", "pcm_f32le"}),
    ".ogg": frozenset({"vorbis", "opus", "flac"}),
    ".oga": frozenset({"vorbis", "opus", "flac"}),
    ".opus": frozenset({"opus"}),
    ".m4a": frozenset({"aac", "mp3", "flac", "opus"}),
}
MAX_WIDTH_PX = 1280
# Decoders PyAV names where the codec has another name (what a video row holds).
_DECODERS = {
    "mp3float": "mp3",
    "mp3adufloat": "mp3adu",
    "aac_fixed": "aac",
    "aac_latm": "aac",
    "libdav1d": "av1",
    "libaom-av1": "av1",
    "av1_cuvid": "av1",
    "libopus": "opus",
    "libvorbis": "vorbis",
    "libvpx": "vp8",
    "libvpx-vp9": "vp9",
    "h264_cuvid": "h264",
}


def codec_of(decoder: str | None) -> str | None:
    """The codec a decoder's name stands for ("mp3float" is MP3, which browsers play)."""
    return _DECODERS.get(decoder, decoder) if decoder is not None else None


class PlayPlan(StrEnum):
    """What a browser needs to play a file."""

    AS_IS = "as_is"
    REMUX = "remux"  # the streams as they are, in MP4
    TRANSCODE = "transcode"  # H.264 and AAC in MP4


@dataclass(frozen=True)
class Playable:
    """How a file will be played, and the name of the version to make when one is needed."""

    plan: PlayPlan
    suffix: str  # of the version made: .mp4, or .m4a for sound alone
    # A version other than the one the plan calls for, named in its file ("transcoded").
    variant: str = ""


def plan_playback(path: Path, container: str, video: str | None, audio: str | None) -> Playable:
    """Whether a browser plays the file at `path` (with these codecs, as FFmpeg names
    them, or as PyAV names their decoders) as it is, after a remux into MP4, or only
    transcoded."""
    video, audio = codec_of(video), codec_of(audio)
    suffix = path.suffix.lower()
    if video is None:
        if audio is None or audio in SOUND_FILES.get(suffix, ()):
            return Playable(PlayPlan.AS_IS, suffix)
        return Playable(PlayPlan.REMUX if audio in MP4_AUDIO else PlayPlan.TRANSCODE, ".m4a")
    mp4_streams = video in MP4_VIDEO and (audio is None or audio in MP4_AUDIO)
    if suffix in (".mp4", ".m4v", ".mov") and "mp4" in container and mp4_streams:
        return Playable(PlayPlan.AS_IS, suffix)
    if suffix == ".webm" and video in WEBM_VIDEO and (audio is None or audio in WEBM_AUDIO):
        return Playable(PlayPlan.AS_IS, suffix)
    return Playable(PlayPlan.REMUX if mp4_streams else PlayPlan.TRANSCODE, ".mp4")


def _even(n: int) -> int:
    return n - n % 2


def make_playable_here(source: Path, target: Path, plan: PlayPlan) -> None:
    """Write the browser's version of `source` to `target` (in this process: call it from
    a child with limits, as `make_playable` does)."""
    import av

    # faststart: the index at the front, so that a browser can start before the end arrives.
    options = {"movflags": "+faststart"}
    with (
        av.open(str(source)) as src,
        av.open(str(target), "w", format="mp4", options=options) as out,
    ):
        video = src.streams.video[0] if src.streams.video else None
        audio = src.streams.audio[0] if src.streams.audio else None
        pairs: dict[Any, Any] = {}
        if plan == PlayPlan.REMUX:
            for stream in (video, audio):
                if stream is not None:
                    pairs[stream] = out.add_stream_from_template(stream)
            for packet in src.demux([s for s in pairs]):
                if packet.dts is None:
                    continue
                packet.stream = pairs[packet.stream]
                out.mux(packet)
            return
        if video is not None:
            rate = video.average_rate or Fraction(25)
            width = min(video.codec_context.width, MAX_WIDTH_PX)
            height = round(video.codec_context.height * width / video.codec_context.width)
            encoded = out.add_stream("libx264", rate=rate)
            encoded.codec_context.time_base = 1 / rate
            encoded.width, encoded.height = _even(width), _even(height)
            encoded.pix_fmt = "yuv420p"
            encoded.options = {"preset": "veryfast", "crf": "23"}
            pairs[video] = encoded
        if audio is not None:
            sound = out.add_stream("aac", rate=audio.codec_context.sample_rate or 48_000)
            sound.bit_rate = 128_000
            pairs[audio] = sound
        pictures = 0
        for packet in src.demux([s for s in pairs]):
            try:
                frames = packet.decode()
            except MemoryError:
                raise  # av.error.MemoryError (ENOMEM) is an FFmpegError too: not corruption
            except (av.error.FFmpegError, ValueError):
                continue  # a corrupt packet, skipped as indexing skipped it
            for decoded in frames:
                encoder = pairs[packet.stream]
                frame = decoded
                if isinstance(decoded, av.VideoFrame):
                    # Frames numbered as they come: variable-rate sources play at the
                    # average rate.
                    frame = decoded.reformat(encoder.width, encoder.height, "yuv420p")
                    frame.pts, frame.time_base = pictures, 1 / rate
                    pictures += 1
                for encoded_packet in encoder.encode(frame):
                    out.mux(encoded_packet)
        for encoder in pairs.values():
            for encoded_packet in encoder.encode(None):
                out.mux(encoded_packet)


def make_playable(source: Path, target: Path, plan: PlayPlan, limits: DecodeLimits) -> None:
    """Make `target`, the browser's version of `source`, in a child process under the
    decode limits; written whole or not at all.

    Raises:
        MediaError: the version could not be made; the reason says why.
    """
    from videolearn.ingest.worker import run_limited

    partial = target.with_name(target.name + ".partial")
    try:
        run_limited(
            make_playable_here,
            (source, partial, plan),
            limits,
            limits.wall_s,
            source,
            "a playable version",
        )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
