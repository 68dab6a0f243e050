from __future__ import annotations

from pathlib import Path

import pytest

from videolearn.config import load_settings


def test_toml_in_library_then_env_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    (library / "videolearn.toml").write_text(
        "shot_threshold = 30.0\n[decode]\nmax_duration_s = 60.0\nthreads = 2\n"
    )
    settings = load_settings(library)
    assert settings.shot_threshold == 30.0
    assert settings.decode.max_duration_s == 60.0
    assert settings.decode.threads == 2
    monkeypatch.setenv("VIDEOLEARN_DECODE__MAX_DURATION_S", "90")
    settings = load_settings(library)
    assert settings.decode.max_duration_s == 90.0
    assert settings.decode.threads == 2
    assert load_settings(library, shot_threshold=12.0).shot_threshold == 12.0


def test_library_defaults_to_env_then_cwd_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIDEOLEARN_LIBRARY", raising=False)
    assert load_settings().library == Path("videolearn-library")
    monkeypatch.setenv("VIDEOLEARN_LIBRARY", "/somewhere/lib")
    assert load_settings().library == Path("/somewhere/lib")


def test_bad_limit_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_duration_s"):
        load_settings("x", decode={"max_duration_s": -1})


def test_choosing_extractors(tmp_path: Path) -> None:
    from videolearn.errors import ExtractorError
    from videolearn.library import open_library

    chosen = load_settings(tmp_path / "a", extractors=["file_hash", "shots"])
    with open_library(create=True, settings=chosen) as lib:
        assert [e.name for e in lib.extractors] == ["file_hash", "shots"]
    unknown = load_settings(tmp_path / "b", extractors=["shots", "nope"])
    with (
        open_library(create=True, settings=unknown) as lib,
        pytest.raises(ExtractorError, match=r"unknown extractor.*nope"),
    ):
        _ = lib.extractors
    needy = load_settings(tmp_path / "c", extractors=["thumbnails"])
    with (
        open_library(create=True, settings=needy) as lib,
        pytest.raises(ExtractorError, match="thumbnails needs 'shots'"),
    ):
        _ = lib.extractors
