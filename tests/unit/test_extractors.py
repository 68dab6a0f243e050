from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.contract import ExtractorContract
from tests.plugins import install_plugin
from videolearn.apps import catalog
from videolearn.config import load_settings
from videolearn.errors import ExtractorError
from videolearn.extractors.base import Extractor, ExtractorPass, Moment, Signal, VideoContext
from videolearn.extractors.builtin import (
    FileHashExtractor,
    MediaInfoExtractor,
    ShotsExtractor,
    ThumbnailsExtractor,
)
from videolearn.extractors.registry import available_extractors, order_by_needs
from videolearn.library import open_library
from videolearn.samples import BLUE, RED, write_video


class TestFileHash(ExtractorContract):
    extractor_class = FileHashExtractor

    def test_digests_match_hashlib(self, media_file: Path, contract_settings) -> None:
        import hashlib

        _, signals = self._run(media_file, contract_settings)
        data = media_file.read_bytes()
        values = {s.kind: s.value for s in signals}
        assert values == {
            "sha256": hashlib.sha256(data).hexdigest(),
            "md5": hashlib.md5(data).hexdigest(),
        }


class TestMediaInfo(ExtractorContract):
    extractor_class = MediaInfoExtractor

    def test_describes_streams(self, media_file: Path, contract_settings) -> None:
        _, signals = self._run(media_file, contract_settings)
        info = json.loads(signals[0].value)
        assert info["video"]["codec"] == "h264"
        assert (info["video"]["width_px"], info["video"]["height_px"]) == (160, 120)
        assert info["audio"]["codec"] == "aac"


class TestShots(ExtractorContract):
    extractor_class = ShotsExtractor

    def test_cuts_where_colours_change(self, media_file: Path, contract_settings) -> None:
        _, signals = self._run(media_file, contract_settings)
        starts = [round(s.span.start_s, 2) for s in signals]
        assert starts == [0.0, 1.0, 2.0]
        assert all(s.modality == "shot" for s in signals)


class TestThumbnails(ExtractorContract):
    extractor_class = ThumbnailsExtractor

    def test_one_jpeg_per_shot_in_the_shot_colour(
        self, media_file: Path, contract_settings
    ) -> None:
        _, signals = self._run(media_file, contract_settings)
        assert len(signals) == 3
        for sig, rgb in zip(signals, [(220, 30, 30), (30, 200, 60), (40, 60, 220)], strict=True):
            image = cv2.imdecode(np.frombuffer(sig.jpeg, np.uint8), cv2.IMREAD_COLOR)
            corner = image[:10, :10].reshape(-1, 3).mean(axis=0)[::-1]  # BGR -> RGB
            assert np.abs(corner - np.array(rgb)).max() < 25
            assert (sig.width_px, sig.height_px) == (160, 120)


class _Needy(Extractor):
    name = "needy"
    version = 1
    signal_type = Moment
    needs = ("missing",)

    def begin(self, video: VideoContext) -> ExtractorPass:
        class _P(ExtractorPass):
            def finish(
                self, end_s: float, earlier: Mapping[str, Sequence[Signal]]
            ) -> Iterable[Signal]:
                return ()

        return _P()


def test_order_by_needs_puts_needs_first() -> None:
    ordered = order_by_needs([ThumbnailsExtractor, ShotsExtractor, FileHashExtractor])
    names = [c.name for c in ordered]
    assert names.index("shots") < names.index("thumbnails")


def test_missing_need_is_an_error_naming_it() -> None:
    with pytest.raises(ExtractorError, match="needy needs 'missing'"):
        order_by_needs([_Needy])


def test_entry_point_extractors_are_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = (
        "from videolearn.extractors.builtin import ShotsExtractor\n"
        "class CountShots(ShotsExtractor):\n"
        "    name = 'count_shots'\n"
        "    version = 3\n"
    )
    install_plugin(tmp_path, monkeypatch, "count_shots", "CountShots", source)
    found = available_extractors()
    assert found["count_shots"].version == 3
    assert list(found)[:4] == ["file_hash", "media_info", "shots", "thumbnails"]


def test_an_extractor_crash_fails_that_file_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = (
        "from videolearn.extractors.builtin import ShotsExtractor\n"
        "class Broken(ShotsExtractor):\n"
        "    name = 'broken'\n"
        "    def begin(self, video):\n"
        "        if video.path.name.startswith('bad'):\n"
        "            raise ZeroDivisionError('boom')\n"
        "        return super().begin(video)\n"
    )
    install_plugin(tmp_path, monkeypatch, "broken", "Broken", source)
    media = tmp_path / "media"
    media.mkdir()
    write_video(media / "bad.mp4", [(RED, 1.0)])
    write_video(media / "good.mp4", [(BLUE, 1.0)])
    with open_library(tmp_path / "lib", create=True) as lib:
        results = {Path(r.path).name: r for r in lib.index([media])}
        assert results["good.mp4"].status == "indexed"
        assert results["bad.mp4"].status == "failed"
        assert results["bad.mp4"].reason == "extractor broken failed: ZeroDivisionError: boom"
        assert catalog.status(lib).failures[0].path.endswith("bad.mp4")


def test_a_plugin_that_fails_to_load_is_skipped_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin(tmp_path, monkeypatch, "broken_import", "Nope", "import no_such_module\n")
    taken = (
        "from videolearn.extractors.builtin import ShotsExtractor\n"
        "class Again(ShotsExtractor):\n"
        "    name = 'shots'\n"
    )
    install_plugin(tmp_path, monkeypatch, "taken_name", "Again", taken)
    found = available_extractors()
    assert "broken_import" not in found and found["shots"] is ShotsExtractor
    media = tmp_path / "media"
    media.mkdir()
    write_video(media / "good.mp4", [(BLUE, 1.0)])
    with open_library(tmp_path / "lib", create=True) as lib:
        [result] = lib.index([media])
        assert result.status == "indexed"
        skipped = {p.name: p.reason for p in catalog.status(lib).skipped_plugins}
        assert "ModuleNotFoundError" in skipped["broken_import"]
        assert skipped["taken_name"] == "another extractor is already named 'shots'"
        notices = catalog.doctor(lib).notices
        assert any("broken_import" in n and "skipped" in n for n in notices)


def test_a_plugin_brings_its_own_settings_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = (
        "from pydantic import BaseModel, Field\n"
        "from videolearn.extractors.builtin import ShotsExtractor\n"
        "class Options(BaseModel):\n"
        "    every_s: float = Field(default=1.0, gt=0)\n"
        "class Tuned(ShotsExtractor):\n"
        "    name = 'tuned'\n"
        "    options_model = Options\n"
    )
    install_plugin(tmp_path, monkeypatch, "tuned", "Tuned", source)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "videolearn.toml").write_text("[plugins.tuned]\nevery_s = 2.5\n")
    tuned = available_extractors()["tuned"]
    assert tuned(load_settings(tmp_path / "lib")).plugin_options().every_s == 2.5
    assert tuned(load_settings(tmp_path / "none")).plugin_options().every_s == 1.0
    bad = load_settings(tmp_path / "none", plugins={"tuned": {"every_s": -1}})
    with pytest.raises(ExtractorError, match=r"\[plugins.tuned\].*every_s"):
        tuned(bad).plugin_options()
