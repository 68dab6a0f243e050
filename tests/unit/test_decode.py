"""Decoding: timestamps, rotation, audio, corrupt and truncated input, limits."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from videolearn.config import DecodeLimits
from videolearn.errors import MediaError
from videolearn.ingest.decode import DecodeRequest, FrameSampling, open_media
from videolearn.ingest.worker import open_decode
from videolearn.samples import BLUE, GREEN, RED, write_av, write_tone, write_video

EVERY_FRAME = FrameSampling(None, 64)


def _decode_all(path: Path, request: DecodeRequest, limits: DecodeLimits | None = None):
    with open_media(path, limits or DecodeLimits()) as media:
        chunks = list(media.iter_chunks(request))
        return media.info, media.report, chunks


def _frames(chunks, sampling):
    batches = [c.frames[sampling] for c in chunks if sampling in c.frames]
    return np.concatenate([b.frames for b in batches]), np.concatenate([b.times_s for b in batches])


def _audio(chunks):
    return np.concatenate([c.audio.samples for c in chunks if c.audio is not None])


def test_variable_frame_rate_times_come_from_pts(tmp_path: Path) -> None:
    # Gaps of up to 1.5 s: frame index / fps would be seconds off.
    times = [0.0, 0.04, 0.08, 1.0, 1.04, 2.52, 2.56, 2.6, 3.92]
    path = write_video(tmp_path / "vfr.mkv", [(RED, 4.0)], frame_times_s=times, tone_hz=None)
    _, report, chunks = _decode_all(path, DecodeRequest(frames=(EVERY_FRAME,)))
    _, got = _frames(chunks, EVERY_FRAME)
    np.testing.assert_allclose(got, times, atol=0.002)
    assert report.video_frames == len(times)


def test_sampling_at_one_fps_picks_one_frame_per_second(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", [(RED, 5.0)], fps=30, tone_hz=None)
    one_fps = FrameSampling(1.0, 32)
    _, _, chunks = _decode_all(path, DecodeRequest(frames=(one_fps, EVERY_FRAME)))
    frames, times = _frames(chunks, one_fps)
    np.testing.assert_allclose(times, [0, 1, 2, 3, 4], atol=0.02)
    assert frames.shape == (5, 24, 32, 3)
    assert _frames(chunks, EVERY_FRAME)[0].shape[0] == 150


def test_rotation_is_applied(tmp_path: Path) -> None:
    path = write_video(
        tmp_path / "r.mp4", [(RED, 1.0)], size=(160, 96), rotation_deg=90, tone_hz=None
    )
    _, report, chunks = _decode_all(path, DecodeRequest(frames=(FrameSampling(None, 1000),)))
    frames, _ = _frames(chunks, FrameSampling(None, 1000))
    assert frames.shape[1:] == (160, 96, 3)  # shown portrait
    assert report.display_size_px == (96, 160)
    assert report.rotation_deg in (90, -90)


def test_audio_is_16k_mono_with_the_tone(tmp_path: Path) -> None:
    path = write_video(tmp_path / "t.mp4", [(RED, 2.0)], tone_hz=500.0)
    _, _, chunks = _decode_all(path, DecodeRequest(audio=True))
    samples = _audio(chunks)
    assert abs(samples.size / 16000 - 2.0) < 0.1
    spectrum = np.abs(np.fft.rfft(samples[4000:20000]))
    assert abs(np.argmax(spectrum) * 16000 / 16000 - 500) < 3


def test_audio_only_file_gives_all_its_sound(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "t.flac", 3.0)
    info, report, _chunks = _decode_all(path, DecodeRequest(frames=(EVERY_FRAME,)))
    assert info.video is None
    assert report.video_frames == 0
    assert abs(report.audio_samples / 16000 - 3.0) < 0.01


def test_resampler_rebuilt_when_sample_rate_changes_mid_file(tmp_path: Path) -> None:
    # Raw ADTS AAC carries the sample rate in every frame header: two files joined byte
    # for byte are one stream whose input format changes half way.
    first = write_tone(tmp_path / "a.aac", 2.0, hz=300.0, codec="aac")
    second = tmp_path / "b.aac"
    with av.open(str(second), "w") as out:
        stream = out.add_stream("aac", rate=22050)
        stream.layout = "stereo"
        n = 22050 * 2
        tone = (0.3 * np.sin(2 * np.pi * 300 * np.arange(n) / 22050)).astype(np.float32)
        for start in range(0, n, 1024):
            block = np.stack([tone[start : start + 1024]] * 2)
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
            frame.sample_rate = 22050
            frame.pts = start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    joined = tmp_path / "joined.aac"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    _, report, _chunks = _decode_all(joined, DecodeRequest(audio=True))
    assert abs(report.audio_samples / 16000 - 4.0) < 0.2


def test_megamind_corrupt_ac3_packet_skipped_and_audio_recovered(shared_data: Path) -> None:
    path = shared_data / "video" / "Megamind.avi"
    _, report, chunks = _decode_all(path, DecodeRequest(audio=True))
    assert report.corrupt_packets >= 1
    assert _audio(chunks).size / 16000 > 11.0


def test_truncated_file_is_reported(tmp_path: Path) -> None:
    path = write_video(tmp_path / "full.mkv", [(RED, 4.0), (GREEN, 4.0)], tone_hz=None)
    data = path.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(MediaError, match=r"truncated: decoding stopped at .* of the 8\.0 s"):
        _decode_all(cut, DecodeRequest(frames=(EVERY_FRAME,)))


def _picture_and_sound(path: Path, picture_s: float, sound_s: float) -> Path:
    fps = 10
    frames = np.zeros((round(picture_s * fps), 48, 64, 3), np.uint8)
    frames[..., 0] = np.linspace(0, 255, len(frames), dtype=np.uint8)[:, None, None]
    t = np.arange(round(sound_s * 16000)) / 16000
    return write_av(path, frames, fps, (0.3 * np.sin(2 * np.pi * 440 * t)), 16000)


@pytest.mark.parametrize(("picture_s", "sound_s"), [(10.0, 5.0), (4.0, 10.0)])
@pytest.mark.parametrize("wanted", ["sound", "picture"])
def test_a_stream_that_ends_early_is_decoded_for_what_it_holds(
    tmp_path: Path, picture_s: float, sound_s: float, wanted: str
) -> None:
    path = _picture_and_sound(tmp_path / "uneven.mp4", picture_s, sound_s)
    request = DecodeRequest(audio=True) if wanted == "sound" else DecodeRequest((EVERY_FRAME,))
    info, report, chunks = _decode_all(path, request)
    assert info.duration_s == pytest.approx(max(picture_s, sound_s), abs=0.2)
    if wanted == "sound":
        assert _audio(chunks).size / 16000 == pytest.approx(sound_s, abs=0.1)
    else:
        assert report.video_frames == round(picture_s * 10)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"this is not a video at all\n" * 50, "not a media file"),
        # An MP4's first box, then nothing of its index: an MP4 that was not written out.
        (b"\x00\x00\x00\x18ftypisom" + b"\xff" * 2000, "cut short: an MP4 or MOV file"),
    ],
)
def test_not_media_is_a_clear_error(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "fake.mp4"
    path.write_bytes(content)
    with pytest.raises(MediaError, match=reason):
        _decode_all(path, DecodeRequest(frames=(EVERY_FRAME,)))


def test_corrupt_header_names_the_problem(tmp_path: Path) -> None:
    path = write_video(tmp_path / "h.mp4", [(BLUE, 1.0)])
    data = bytearray(path.read_bytes())
    data[0:64] = b"\x00" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(MediaError) as err:
        _decode_all(path, DecodeRequest(frames=(EVERY_FRAME,)))
    assert str(path) in str(err.value)


def test_duration_and_picture_limits(tmp_path: Path) -> None:
    path = write_video(tmp_path / "d.mp4", [(RED, 3.0)], tone_hz=None)
    with pytest.raises(MediaError, match=r"over the duration limit .*decode.max_duration_s"):
        _decode_all(path, DecodeRequest(), DecodeLimits(max_duration_s=2.0))
    with pytest.raises(MediaError, match=r"over the limit of .* pixels"):
        _decode_all(path, DecodeRequest(), DecodeLimits(max_pixels=100 * 100))


def test_child_process_enforces_wall_time(shared_data: Path) -> None:
    request = DecodeRequest(frames=(FrameSampling(None, 768),))
    with (
        pytest.raises(MediaError, match="wall-time limit"),
        open_decode(shared_data / "video" / "vtest.avi", request, DecodeLimits(wall_s=0.2)) as d,
    ):
        for _ in d:
            pass


def test_child_process_streams_the_same_chunks(tmp_path: Path) -> None:
    path = write_video(tmp_path / "s.mp4", [(RED, 1.0), (GREEN, 1.0)])
    request = DecodeRequest(frames=(EVERY_FRAME,), audio=True)
    _, report, chunks = _decode_all(path, request)
    with open_decode(path, request, DecodeLimits()) as decode:
        child_chunks = list(decode)
        assert decode.report == report
    a, ta = _frames(chunks, EVERY_FRAME)
    b, tb = _frames(child_chunks, EVERY_FRAME)
    assert np.array_equal(a, b) and np.array_equal(ta, tb)
    assert np.array_equal(_audio(chunks), _audio(child_chunks))
