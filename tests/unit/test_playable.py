"""Which files browsers play as they are, and the versions made for the rest."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from videolearn.config import DecodeLimits
from videolearn.errors import MediaError
from videolearn.ingest.playable import PlayPlan, make_playable, plan_playback
from videolearn.samples import BLUE, RED, write_tone, write_video

MP4 = "mov,mp4,m4a,3gp,3g2,mj2"


@pytest.mark.parametrize(
    ("name", "container", "video", "audio", "plan", "suffix"),
    [
        ("a.mp4", MP4, "h264", "aac", PlayPlan.AS_IS, ".mp4"),
        ("a.mp4", MP4, "h264", None, PlayPlan.AS_IS, ".mp4"),
        ("a.mov", MP4, "hevc", "aac", PlayPlan.TRANSCODE, ".mp4"),
        ("a.mp4", MP4, "mpeg4", "mp3", PlayPlan.TRANSCODE, ".mp4"),
        ("a.mp4", MP4, "h264", "ac3", PlayPlan.TRANSCODE, ".mp4"),
        ("a.mkv", "matroska,webm", "h264", "aac", PlayPlan.REMUX, ".mp4"),
        ("a.mkv", "matroska,webm", "vp9", "opus", PlayPlan.REMUX, ".mp4"),
        ("a.webm", "matroska,webm", "vp9", "opus", PlayPlan.AS_IS, ".webm"),
        ("a.webm", "matroska,webm", "h264", "aac", PlayPlan.REMUX, ".mp4"),
        ("a.avi", "avi", "mpeg4", "mp3", PlayPlan.TRANSCODE, ".mp4"),
        ("a.ts", "mpegts", "h264", "aac", PlayPlan.REMUX, ".mp4"),
        ("a.flac", "flac", None, "flac", PlayPlan.AS_IS, ".flac"),
        ("a.wav", "wav", None, "pcm_s16le", PlayPlan.AS_IS, ".wav"),
        ("a.wav", "wav", None, "pcm_s24le", PlayPlan.TRANSCODE, ".m4a"),
        ("a.wma", "asf", None, "wmav2", PlayPlan.TRANSCODE, ".m4a"),
        ("a.mka", "matroska,webm", None, "aac", PlayPlan.REMUX, ".m4a"),
        # As PyAV names the decoders: MP3 is MP3, AV1 is AV1.
        ("box.mp4", MP4, "h264", "mp3float", PlayPlan.AS_IS, ".mp4"),
        ("a.mp3", "mp3", None, "mp3float", PlayPlan.AS_IS, ".mp3"),
        ("a.mkv", "matroska,webm", "libdav1d", "libopus", PlayPlan.REMUX, ".mp4"),
    ],
)
def test_what_browsers_play_as_it_is(  # noqa: PLR0917  one parametrised case
    name: str, container: str, video: str | None, audio: str | None, plan: PlayPlan, suffix: str
) -> None:
    playable = plan_playback(Path(name), container, video, audio)
    assert (playable.plan, playable.suffix) == (plan, suffix)


@pytest.mark.parametrize("plan", [PlayPlan.REMUX, PlayPlan.TRANSCODE])
def test_a_version_for_browsers_is_mp4_with_the_same_pictures(
    plan: PlayPlan, tmp_path: Path
) -> None:
    source = write_video(tmp_path / "clip.mkv", [(RED, 1.0), (BLUE, 1.0)])
    target = tmp_path / "clip.mp4"
    make_playable(source, target, plan, DecodeLimits())
    with av.open(str(target)) as made:
        assert "mp4" in made.format.name
        assert [s.codec_context.name for s in made.streams] == ["h264", "aac"]
        assert made.duration is not None and abs(made.duration / 1e6 - 2.0) < 0.1
        frames = list(made.decode(video=0))
    assert len(frames) == 50  # 25 frames a second, none lost
    first, last = frames[0].to_ndarray(format="rgb24"), frames[-1].to_ndarray(format="rgb24")
    assert first[..., 0].mean() > 150 > first[..., 2].mean()  # red, then blue
    assert last[..., 2].mean() > 150 > last[..., 0].mean()
    assert not list(tmp_path.glob("*.partial"))


def test_sound_alone_becomes_m4a(tmp_path: Path) -> None:
    source = write_tone(tmp_path / "tone.flac", 1.0)
    target = tmp_path / "tone.m4a"
    make_playable(source, target, PlayPlan.TRANSCODE, DecodeLimits())
    with av.open(str(target)) as made:
        assert [s.codec_context.name for s in made.streams] == ["aac"]


def test_a_file_that_cannot_be_made_playable_says_why_and_leaves_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mkv"
    broken.write_bytes(b"\x1a\x45\xdf\xa3" + b"\0" * 1000)
    target = tmp_path / "broken.mp4"
    with pytest.raises(MediaError, match="cannot make a playable version") as caught:
        make_playable(broken, target, PlayPlan.TRANSCODE, DecodeLimits())
    assert str(broken) in str(caught.value)
    assert list(tmp_path.iterdir()) == [broken]


def test_a_corrupt_packet_is_skipped_as_indexing_skips_it(
    tmp_path: Path, shared_data: Path
) -> None:
    """Megamind.avi's AC-3 track holds a packet FFmpeg cannot decode: indexing skips it,
    and so does its version for browsers, whole and as long as the file."""
    target = tmp_path / "megamind.mp4"
    make_playable(
        shared_data / "video" / "Megamind.avi", target, PlayPlan.TRANSCODE, DecodeLimits()
    )
    with av.open(str(target)) as made:
        kinds = sorted(s.type for s in made.streams)
        seconds = made.duration / 1e6
    assert kinds == ["audio", "video"]
    assert seconds == pytest.approx(11.3, abs=0.3)
