"""Nudity detection (the nsfw extra) with NudeNet's bundled detector, on real footage."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tests.contract import ExtractorContract, run_extractor
from videolearn.config import Settings, load_settings
from videolearn.extractors.base import Moment
from videolearn.extractors.nudity import NudityExtractor
from videolearn.samples import cut_video

# Every class NudeNet knows: the Megamind trailer's characters give faces and covered
# parts, so the contract has something to check.
ALL_CLASSES = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)


class TestNudityContract(ExtractorContract):
    extractor_class = NudityExtractor

    @pytest.fixture(scope="class")
    @classmethod
    def media_file(cls, tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
        target = tmp_path_factory.mktemp("contract") / "trailer.mp4"
        return cut_video(shared_data / "video" / "Megamind.avi", target, 0.0, 60.0)

    @pytest.fixture(scope="class")
    @classmethod
    def contract_settings(cls, tmp_path_factory: pytest.TempPathFactory) -> Settings:
        return load_settings(
            tmp_path_factory.mktemp("lib") / "library",
            keep_versions_s=0,
            nudity={"classes": ALL_CLASSES, "threshold": 0.2},
        )


def _flags(path: Path, settings: Settings) -> list[Moment]:
    _, found = run_extractor("nudity", path, settings)
    assert all(isinstance(m, Moment) and m.modality == "nudity" for m in found)
    return found  # type: ignore[return-value]


def test_safe_videos_raise_no_flag(shared_data: Path, tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "library")
    files = sorted((shared_data / "video").iterdir()) + sorted(
        (shared_data / "threatexchange" / "videos").iterdir()
    )
    flagged = {path.name: _flags(path, settings) for path in files}
    assert not any(flagged.values()), {k: [m.label for m in v] for k, v in flagged.items() if v}


def test_people_are_seen_when_every_class_counts(tmp_path: Path, shared_data: Path) -> None:
    path = shared_data / "video" / "Megamind.avi"
    settings = load_settings(
        tmp_path / "library", nudity={"classes": ALL_CLASSES, "threshold": 0.2}
    )
    found = _flags(path, settings)
    assert "FACE_FEMALE" in {m.label for m in found}
    for m in found:
        x0, y0, x1, y1 = m.attrs["box"]
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
        assert m.label in ALL_CLASSES and 0.2 <= m.score <= 1
    # One moment per class while it stays: no two moments of a class overlap.
    for label in {m.label for m in found}:
        spans = sorted((m.span.start_s, m.span.end_s) for m in found if m.label == label)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
