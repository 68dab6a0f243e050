"""A corpus of hostile inputs, each with what `index` must say of it: files cut short,
flipped, empty, mislabelled, huge on paper, playlists that reach outside, names and links
that trip a scanner. Written into one folder beside good videos, they must each get one
true line, and the good files theirs.

`make_corpus(folder, outside)` writes them and returns what is expected of each entry,
by the name `index` reports its path under.
"""

from __future__ import annotations

import os
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from videolearn.samples import BLUE, GREEN, RED, write_av, write_video, write_wav

RATE = 16_000


@dataclass(frozen=True)
class Expected:
    """What `index` says of an entry: its status, and words its reason must hold (all
    of them; none for an indexed file). `named`: a folder's scan does not list it (its
    name is no media file's), so it is given to `index` by name."""

    status: str
    reason: tuple[str, ...] = ()
    named: bool = False


def _good(path: Path, colour: tuple[int, int, int] = RED, seconds: float = 2.0) -> Path:
    return write_video(path, [(colour, seconds / 2), (BLUE, seconds / 2)])


def _noise_video(path: Path, seconds: float, fps: int = 10, faststart: bool = False) -> Path:
    """Noise pictures (they do not compress: the file is long enough to cut) and a tone."""
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (round(seconds * fps), 96, 128, 3), dtype=np.uint8)
    t = np.arange(round(seconds * RATE)) / RATE
    sound = 0.3 * np.sin(2 * np.pi * 440 * t)
    write_av(path, frames, fps, sound, RATE)
    if faststart:  # the index (moov) before the media, as web uploads have it
        moved = path.with_suffix(".fast.mp4")
        with (
            av.open(str(path)) as src,
            av.open(str(moved), "w", options={"movflags": "faststart"}) as out,
        ):
            streams = {s.index: out.add_stream_from_template(s) for s in src.streams}
            for packet in src.demux():
                if packet.dts is None:
                    continue
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
        moved.replace(path)
    return path


def _cut(path: Path, share: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * share)])
    return path


def _flip(path: Path, count: int, seed: int) -> Path:
    data = bytearray(path.read_bytes())
    rng = random.Random(seed)
    for _ in range(count):  # not in the first or last KiB: the container's own boxes
        i = rng.randrange(1024, len(data) - 1024)
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def _y4m(path: Path, width: int, height: int, frames: int = 1) -> Path:
    """A raw YUV4MPEG2 file; its header declares the size, its frames are as written."""
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F25:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + bytes(width * height * 3 // 2))
    return path


def _huge_y4m(path: Path) -> Path:
    """A header declaring 60000 x 60000 pixels, one frame's worth of bytes missing."""
    path.write_bytes(b"YUV4MPEG2 W60000 H60000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(1024))
    return path


def _wav_header_only(path: Path) -> Path:
    header = b"RIFF" + struct.pack("<I", 36) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, RATE, RATE * 2, 2, 16)
    header += b"data" + struct.pack("<I", 0)
    path.write_bytes(header)
    return path


def _rate_change(path: Path) -> Path:
    """ADTS AAC whose sample rate changes half way (two encodings joined end to end)."""
    parts = []
    for rate, hz in ((44_100, 440.0), (16_000, 660.0)):
        part = path.with_suffix(f".{rate}.aac")
        t = np.arange(2 * rate) / rate
        samples = (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
        with av.open(str(part), "w", format="adts") as out:
            stream = out.add_stream("aac", rate=rate)
            stream.layout = "mono"
            frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        parts.append(part.read_bytes())
        part.unlink()
    path.write_bytes(b"".join(parts))
    return path


def _playlist(path: Path, outside: Path, kind: str) -> Path:
    target = outside / "secret.mp4"
    if kind == "ffconcat":
        path.write_text(f"ffconcat version 1.0\nfile '{target}'\n")
    elif kind == "m3u8":
        path.write_text(
            f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n{target}\n#EXT-X-ENDLIST\n"
        )
    else:  # an HLS playlist that asks for the network
        path.write_text(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nhttp://127.0.0.1:9/x.ts\n"
            "#EXT-X-ENDLIST\n"
        )
    return path


Maker = Callable[[Path, Path], object]


def _vfr(path: Path) -> Path:
    times = [0.0, 0.04, 0.5, 0.52, 1.4, 1.45, 1.9]  # frames 40 ms to 900 ms apart
    return write_video(path, [(RED, 1.0), (GREEN, 1.0)], frame_times_s=times, tone_hz=None)


def _dir_named_like_a_file(path: Path) -> Path:
    path.mkdir()
    return _good(path / "inside.mp4", BLUE, 3.0)


def _hum(seconds: float, period: float) -> np.ndarray:
    return (0.2 * np.sin(np.arange(round(RATE * seconds)) / period)).astype(np.float32)


def _link(path: Path, target: Path) -> Path:
    path.symlink_to(target)
    return path


# (the name `index` reports it under, how to make it in the folder (given a folder
# beyond it too), what `index` must say of it)
CORPUS: list[tuple[str, Maker, Expected]] = [
    ("good.mp4", lambda f, o: _good(f / "good.mp4"), Expected("indexed")),
    (
        "zero-bytes.mp4",
        lambda f, o: (f / "zero-bytes.mp4").write_bytes(b""),
        Expected("failed", ("empty file",)),
    ),
    (
        "random-bytes.mp4",
        lambda f, o: (f / "random-bytes.mp4").write_bytes(os.urandom(200_000)),
        Expected("failed", ("not a media file",)),
    ),
    (
        "text.mkv",
        lambda f, o: (f / "text.mkv").write_text("hello, not a film\n" * 100),
        Expected("failed", ("not a media file",)),
    ),
    # MP4s as most writers make them, index last, cut at several points.
    (
        "header-only.mp4",
        lambda f, o: _cut(_good(f / "header-only.mp4"), 0.02),
        Expected("failed", ("cut short",)),
    ),
    (
        "cut-10.mp4",
        lambda f, o: _cut(_noise_video(f / "cut-10.mp4", 4.0), 0.1),
        Expected("failed", ("cut short",)),
    ),
    (
        "cut-50.mp4",
        lambda f, o: _cut(_noise_video(f / "cut-50.mp4", 4.0), 0.5),
        Expected("failed", ("cut short",)),
    ),
    (
        "cut-90.mp4",
        lambda f, o: _cut(_noise_video(f / "cut-90.mp4", 4.0), 0.9),
        Expected("failed", ("cut short",)),
    ),
    # Index first: what is left plays, but it is not the whole file.
    (
        "faststart-cut-50.mp4",
        lambda f, o: _cut(_noise_video(f / "faststart-cut-50.mp4", 4.0, faststart=True), 0.5),
        Expected("failed", ("truncated: decoding stopped at",)),
    ),
    (
        "bit-flipped.mp4",
        lambda f, o: _flip(_noise_video(f / "bit-flipped.mp4", 4.0), 40, 3),
        Expected("indexed"),
    ),
    ("wrong-extension.avi", lambda f, o: _good(f / "wrong-extension.avi"), Expected("indexed")),
    (
        "sound-as-video.mp4",
        lambda f, o: write_wav(f / "sound-as-video.mp4", _hum(2.0, 10.0), RATE),
        Expected("indexed"),
    ),
    (
        "no-audio.mp4",
        lambda f, o: write_video(f / "no-audio.mp4", [(GREEN, 1.0)], tone_hz=None),
        Expected("indexed"),
    ),
    (
        "audio-only.wav",
        lambda f, o: write_wav(f / "audio-only.wav", _hum(2.0, 7.0), RATE),
        Expected("indexed"),
    ),
    (
        "one-frame.mp4",
        lambda f, o: write_video(f / "one-frame.mp4", [(BLUE, 0.04)], tone_hz=None),
        Expected("indexed"),
    ),
    (
        "odd-size.mkv",
        lambda f, o: write_video(f / "odd-size.mkv", [(RED, 1.0)], size=(34, 18)),
        Expected("indexed"),
    ),
    (
        "rotated.mp4",
        lambda f, o: write_video(f / "rotated.mp4", [(RED, 1.0)], rotation_deg=90),
        Expected("indexed"),
    ),
    ("variable-rate.mkv", lambda f, o: _vfr(f / "variable-rate.mkv"), Expected("indexed")),
    ("rate-change.aac", lambda f, o: _rate_change(f / "rate-change.aac"), Expected("indexed")),
    (
        "silence.wav",
        lambda f, o: write_wav(f / "silence.wav", np.zeros(RATE * 600, np.float32), RATE),
        Expected("indexed"),
    ),
    (
        "wav-header-only.wav",
        lambda f, o: _wav_header_only(f / "wav-header-only.wav"),
        Expected("failed", ("holds no picture or sound",)),
    ),
    ("-dash.mp4", lambda f, o: _good(f / "-dash.mp4", GREEN), Expected("indexed")),
    (
        "caf\\xe9.mp4",  # a Latin-1 name, not UTF-8: shown escaped
        lambda f, o: _good(f / os.fsdecode(b"caf\xe9.mp4"), BLUE),
        Expected("indexed"),
    ),
    (
        "loop.mp4",
        lambda f, o: _link(f / "loop.mp4", f / "loop.mp4"),
        Expected("failed", ("too many levels of symbolic links",)),
    ),
    (
        "link-out.mp4",
        lambda f, o: _link(f / "link-out.mp4", o / "secret.mp4"),
        Expected("failed", ("outside", "not followed")),
    ),
    (
        "dangling.mp4",
        lambda f, o: _link(f / "dangling.mp4", f / "gone.mp4"),
        Expected("failed", ("leads nowhere",)),
    ),
    ("x.mp4/inside.mp4", lambda f, o: _dir_named_like_a_file(f / "x.mp4"), Expected("indexed")),
    ("z-good.mkv", lambda f, o: _good(f / "z-good.mkv", GREEN, 3.0), Expected("indexed")),
    # Not found by a folder's scan (not a media file's name); given by name, refused.
    (
        "huge-declared.y4m",
        lambda f, o: _huge_y4m(f / "huge-declared.y4m"),
        Expected("failed", ("60000x60000", "decode.max_pixels"), named=True),
    ),
    (
        "small.y4m",
        lambda f, o: _y4m(f / "small.y4m", 64, 48, 25),
        Expected("indexed", named=True),
    ),
    (
        "concat.ffconcat",
        lambda f, o: _playlist(f / "concat.ffconcat", o, "ffconcat"),
        Expected("failed", ("refers to other files",), named=True),
    ),
    (
        "list.m3u8",
        lambda f, o: _playlist(f / "list.m3u8", o, "m3u8"),
        Expected("failed", ("refers to other files",), named=True),
    ),
    (
        "net.m3u8",
        lambda f, o: _playlist(f / "net.m3u8", o, "hls"),
        Expected("failed", ("refers to other files",), named=True),
    ),
]


def make_corpus(folder: Path, outside: Path) -> dict[str, Expected]:
    """Write the corpus into `folder` (and a file it must not read into `outside`);
    what is expected of each entry, by its path relative to `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    _good(outside / "secret.mp4", GREEN)
    for _, make, _ in CORPUS:
        make(folder, outside)
    return {name: expected for name, _, expected in CORPUS}
