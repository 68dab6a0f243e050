"""PDQ and vPDQ against the ThreatExchange reference data."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.contract import ExtractorContract
from videolearn.apps.hashing import frame_hashes
from videolearn.config import Settings, load_settings
from videolearn.extractors.hashes import (
    PdqExtractor,
    VpdqCroppedExtractor,
    VpdqExtractor,
    VpdqTilesExtractor,
    crop_uniform_borders,
    hamming_hex,
)
from videolearn.extractors.sketch import SketchExtractor

REFERENCE = "threatexchange/vpdq-hashes"


class TestPdqContract(ExtractorContract):
    extractor_class = PdqExtractor


class TestVpdqContract(ExtractorContract):
    extractor_class = VpdqExtractor


class TestVpdqCroppedContract(ExtractorContract):
    extractor_class = VpdqCroppedExtractor


class TestVpdqTilesContract(ExtractorContract):
    extractor_class = VpdqTilesExtractor


def test_crop_uniform_borders() -> None:
    rng = np.random.default_rng(1)
    picture = rng.integers(0, 256, (100, 60, 3), dtype=np.uint8)
    padded = np.pad(picture, ((30, 10), (0, 25), (0, 0)), constant_values=16)
    assert np.array_equal(crop_uniform_borders(padded), picture)
    assert np.array_equal(crop_uniform_borders(picture), picture)
    flat = np.full((50, 50, 3), 7, dtype=np.uint8)  # all border: 40% at most per side
    assert crop_uniform_borders(flat).shape == (10, 10, 3)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(tmp_path_factory.mktemp("lib") / "library")


def _reference(path: Path) -> list[tuple[int, int, str, float]]:
    rows = []
    for line in path.read_text().split():
        frame, quality, digest, timestamp = line.split(",")
        rows.append((int(frame), int(quality), digest, float(timestamp)))
    return rows


def test_vpdq_agrees_with_the_reference_hashes(shared_data: Path, settings: Settings) -> None:
    distances = []
    for ref_file in sorted((shared_data / REFERENCE).glob("*.txt")):
        video = shared_data / "threatexchange" / "videos" / (ref_file.stem + ".mp4")
        ours = frame_hashes(video, "vpdq", settings)
        ref = _reference(ref_file)
        assert len(ours) == len(ref), video.name
        for mine, (frame, quality, digest, timestamp) in zip(ours, ref, strict=True):
            assert mine.frame == frame
            assert mine.quality == quality
            assert abs(mine.timestamp_s - timestamp) <= 0.0006
            distances.append(hamming_hex(mine.pdq_hex, digest))
    d = np.array(distances)
    counts = np.bincount(d)
    print(f"vPDQ vs reference: {d.size} frames, mean {d.mean():.2f}, max {d.max()}, "
          f"distribution {dict(enumerate(counts.tolist()))}")  # fmt: skip
    assert d.max() <= 8
    assert d.mean() < 2.0


def test_pdq_of_transformed_images(shared_data: Path, settings: Settings) -> None:
    folder = shared_data / "threatexchange" / "pdq-images"
    original = frame_hashes(folder / "aaa-orig.jpg", "pdq", settings)[0]
    assert original.quality >= 80
    distances = {}
    for image in sorted(folder.glob("*.jpg")):
        [h] = frame_hashes(image, "pdq", settings)
        distances[image.stem] = hamming_hex(h.pdq_hex, original.pdq_hex)
    print(f"PDQ distance from the original: {distances}")
    assert distances["aaa-orig"] == 0
    # Every transformation stays well inside the exchange's match threshold (31 bits).
    assert max(distances.values()) <= 31


def test_unrelated_videos_are_far_apart(shared_data: Path, settings: Settings) -> None:
    chair = frame_hashes(shared_data / "threatexchange/videos/chair-19-sd-bar.mp4", "pdq", settings)
    other = frame_hashes(shared_data / "video/vtest.avi", "pdq", settings)
    nearest = min(hamming_hex(a.pdq_hex, b.pdq_hex) for a in chair for b in other)
    assert nearest > 31


def test_hash_command_formats(shared_data: Path, tmp_path: Path) -> None:
    video = shared_data / "threatexchange/videos/test-padded-dimensions.mp4"

    def run(signal: str) -> list[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "videolearn", "hash", str(video), "--signal", signal],
            capture_output=True, text=True, timeout=280, check=True, cwd=tmp_path,
        )  # fmt: skip
        return proc.stdout.splitlines()

    vpdq = run("vpdq")
    assert len(vpdq) == 150
    assert all(re.fullmatch(r"\d+,\d{1,3},[0-9a-f]{64},\d+\.\d{3}", line) for line in vpdq)
    assert vpdq[0].startswith("0,")
    assert run("md5") == [hashlib.md5(video.read_bytes()).hexdigest()]
    pdq = run("pdq")
    assert all(re.fullmatch(r"[0-9a-f]{64},\d{1,3},\d+\.\d{3}", line) for line in pdq)
    assert len(pdq) == 5  # one a second over 5 s


def test_cropped_vpdq_takes_whole_frame_hashes_only_where_nothing_is_cut(
    settings: Settings,
) -> None:
    from videolearn.extractors.base import VideoContext
    from videolearn.extractors.pdq import hash_pictures
    from videolearn.extractors.runner import run_extractors
    from videolearn.ingest.decode import FrameBatch, MediaChunk
    from videolearn.ingest.scan import FileIdentity
    from videolearn.types import MediaInfo, VideoStreamInfo

    rng = np.random.default_rng(7)
    frames = rng.integers(0, 256, (6, 96, 128, 3), dtype=np.uint8)
    frames[1, :20] = frames[1, -20:] = 0  # letterboxed
    frames[4, :, :30] = 255  # a white bar at the left
    info = MediaInfo("mp4", 0.24, 0, None, VideoStreamInfo("h264", 128, 96, 25.0), None)
    video = VideoContext("v", Path("v.mp4"), info, FileIdentity(Path("v.mp4"), "v", "", 0, 0))
    whole, cropped = VpdqExtractor(settings), VpdqCroppedExtractor(settings)
    sampling = whole.sampling.frames
    assert sampling is not None
    chunk = MediaChunk(0.24, {sampling: FrameBatch(frames, np.arange(6) / 25)})

    both = run_extractors([whole, cropped], video, [chunk])
    alone = run_extractors([cropped], video, [chunk])["vpdq_cropped"]
    expected = [
        f"{i},{quality},{digest.hex()}"
        for i, [(digest, quality)] in enumerate(
            hash_pictures([crop_uniform_borders(f) for f in frames])
        )
    ]
    assert [s.value for s in both["vpdq_cropped"]] == expected  # type: ignore[union-attr]
    assert [s.value for s in alone] == expected  # type: ignore[union-attr]
    same = [a.value == b.value for a, b in zip(both["vpdq"], both["vpdq_cropped"], strict=True)]  # type: ignore[union-attr]
    assert same == [True, False, True, True, False, True]


class TestSketchContract(ExtractorContract):
    extractor_class = SketchExtractor
