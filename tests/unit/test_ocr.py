"""On-screen text: generated videos with known burnt-in captions, read by every engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydantic
import pytest

from tests.contract import ExtractorContract, run_extractor
from videolearn.config import Settings, load_settings
from videolearn.errors import ExtractorError
from videolearn.extractors.base import Moment
from videolearn.extractors.ocr import (
    OcrExtractor,
    TesseractEngine,
    TextLine,
    TextTracker,
    change,
    engine_name,
    same_line,
)
from videolearn.samples import Caption, character_error_rate, write_captioned_video, write_video

CAPTIONS = [
    Caption("Welcome to the Harbour", 0.0, 5.0, 0.15),
    Caption("Grüße aus der Straße", 2.0, 7.0, 0.45),
    Caption("Le café est fermé", 6.0, 10.0, 0.75),
    Caption("Price: 42.50 EUR", 8.0, 12.0, 0.15, 24),
]


@pytest.fixture(scope="module")
def captioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_captioned_video(tmp_path_factory.mktemp("ocr") / "captions.mp4", CAPTIONS, 12.0)


class TestOcrContract(ExtractorContract):
    extractor_class = OcrExtractor

    @pytest.fixture(scope="class")
    @classmethod
    def media_file(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        folder = tmp_path_factory.mktemp("contract")
        return write_captioned_video(folder / "title.mp4", [Caption("Chapter One", 0.5, 2.5)], 3.0)


def _read(path: Path, library: Path, **ocr: object) -> list[Moment]:
    _, found = run_extractor("ocr", path, load_settings(library, ocr=ocr))
    assert all(isinstance(m, Moment) and m.modality == "text" for m in found)
    return found  # type: ignore[return-value]


def _match(found: list[Moment], caption: Caption) -> Moment:
    """The moment nearest the caption in place and text."""
    return min(
        found,
        key=lambda m: (
            abs(m.attrs["box"][1] - caption.y) > 0.1,
            abs(m.span.start_s - caption.start_s),
        ),
    )


@pytest.mark.parametrize(("engine", "max_cer"), [("tesseract", 0.0), ("rapidocr", 0.35)])
def test_burnt_in_captions_come_back_once_each_with_their_spans(
    engine: str, max_cer: float, captioned: Path, tmp_path: Path
) -> None:
    found = _read(captioned, tmp_path / "lib", engine=engine)
    assert len(found) == len(CAPTIONS), [m.text for m in found]
    for caption in CAPTIONS:
        moment = _match(found, caption)
        cer = character_error_rate(caption.text, moment.text)
        assert cer <= max_cer, f"{engine}: {moment.text!r} for {caption.text!r} (CER {cer:.2f})"
        # Read at 1 frame a second: spans are exact to the sampling.
        assert abs(moment.span.start_s - caption.start_s) <= 1.0
        assert abs(moment.span.end_s - caption.end_s) <= 1.0
        assert moment.attrs["engine"] == engine
        x0, y0, x1, _ = moment.attrs["box"]
        assert 0 <= x0 < x1 <= 1 and abs(y0 - caption.y) < 0.05


def test_auto_has_tesseract_read_latin_lines_and_rapidocr_the_rest(tmp_path: Path) -> None:
    shown = [
        Caption("Grüße aus der Straße", 0.0, 3.0, 0.15),
        Caption("欢迎来到北京", 0.0, 3.0, 0.45, font="wqy-microhei.ttc"),
        # rapidocr reads Cyrillic as Latin letters that look alike ("MacTep"): such a
        # line goes to Tesseract, whose Cyrillic pack reads it.
        Caption("Мастер будет дубить кожу", 0.0, 3.0, 0.75),
    ]
    video = write_captioned_video(tmp_path / "both.mp4", shown, 3.0)
    found = _read(video, tmp_path / "lib", engine="auto")
    assert sorted((m.attrs["engine"], m.text) for m in found) == [
        ("rapidocr", "欢迎来到北京"),
        ("tesseract", "Grüße aus der Straße"),
        ("tesseract", "Мастер будет дубить кожу"),
    ]
    # Without a pack it names, `auto` reads with those that are here; without any, it is
    # rapidocr alone, and says so.
    some = load_settings(
        tmp_path / "lib", ocr={"engine": "auto", "languages": "eng+xx_none", "lexicon": []}
    )
    assert engine_name(some.ocr) == "rapidocr+tesseract:eng"
    assert OcrExtractor(some).revision == "rapidocr+tesseract:eng"
    missing = load_settings(
        tmp_path / "lib", ocr={"engine": "auto", "languages": "xx_none", "lexicon": []}
    )
    assert engine_name(missing.ocr) == "rapidocr"
    assert OcrExtractor(missing).revision == "rapidocr"
    found = _read(video, tmp_path / "lib", engine="auto", languages="xx_none")
    assert {m.attrs["engine"] for m in found} == {"rapidocr"}


def test_text_free_video_gives_nothing(tmp_path: Path) -> None:
    plain = write_captioned_video(tmp_path / "plain.mp4", [], 3.0)
    assert _read(plain, tmp_path / "lib") == []


def test_shapes_read_as_symbols_are_not_text(tmp_path: Path) -> None:
    # The demo's clips: solid colours with a small square moving across (rapidocr read
    # the square as "■").
    shots = write_video(tmp_path / "shots.mp4", [((200, 0, 0), 2.0), ((0, 200, 0), 2.0)])
    texts = [m.text for m in _read(shots, tmp_path / "lib")]
    assert "■" not in texts
    # What is left has a letter in some script (on the green shot the square reads as the
    # CJK character 口, which a sign could be).
    assert all(any(ch.isalnum() for ch in t) for t in texts), texts


def test_change_sees_a_caption_appear() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(80, 120, (360, 640), dtype=np.uint8)
    assert change(frame, frame) == 0.0
    captioned = frame.copy()
    captioned[150:180, 60:400:6] = 255  # strokes of a line of text
    assert change(frame, captioned) > load_settings("unused").ocr.change
    noisy = np.clip(frame.astype(int) + rng.integers(-3, 4, frame.shape), 0, 255)
    assert change(frame, noisy.astype(np.uint8)) < load_settings("unused").ocr.change


def test_tracker_joins_readings_of_one_line_and_keeps_the_best() -> None:
    box = (0.1, 0.1, 0.5, 0.2)
    tracker = TextTracker("test", step_s=1.0)
    tracker.reading(0.0, [TextLine("Welcome home", box, 0.7)])
    tracker.unchanged(1.0)
    tracker.reading(
        2.0, [TextLine("Welcome h0me", box, 0.6), TextLine("Exit", (0.1, 0.8, 0.2, 0.9), 0.9)]
    )
    tracker.reading(3.0, [TextLine("Welcome home!", box, 0.95)])  # "Exit" is gone
    tracker.reading(4.0, [])
    found = tracker.finish(10.0)
    assert [(m.text, m.span.start_s, m.span.end_s, m.score) for m in found] == [
        ("Welcome home!", 0.0, 4.0, 0.95),
        ("Exit", 2.0, 3.0, 0.9),
    ]
    # The same words elsewhere on the frame are another line.
    assert not same_line(TextLine("Exit", (0.1, 0.8, 0.2, 0.9), 1), TextLine("Exit", box, 1))


def test_a_line_still_shown_at_the_end_ends_with_the_video() -> None:
    tracker = TextTracker("test", step_s=1.0)
    tracker.reading(5.0, [TextLine("The End", (0.3, 0.4, 0.7, 0.5), 0.9)])
    tracker.unchanged(6.0)
    (moment,) = tracker.finish(6.4)
    assert (moment.span.start_s, moment.span.end_s) == (5.0, 6.4)


def test_engine_errors_are_clear(captioned: Path, tmp_path: Path) -> None:
    with pytest.raises(ExtractorError, match="no-such-tesseract"):
        TesseractEngine("eng", 1, library="no-such-tesseract")
    with pytest.raises(ExtractorError, match=r"language packs 'xx_no_such_language'"):
        _read(captioned, tmp_path / "lib", engine="tesseract", languages="xx_no_such_language")
    with pytest.raises(pydantic.ValidationError, match="engine"):
        load_settings(tmp_path / "lib", ocr={"engine": "easyocr"})


def test_engine_is_part_of_the_version(settings: Settings) -> None:
    rapid = OcrExtractor(settings)
    tess = OcrExtractor(load_settings(settings.library, ocr={"engine": "tesseract"}))
    assert rapid.revision != tess.revision
    # Other word lists mend readings otherwise: the library is read again.
    fewer = OcrExtractor(load_settings(settings.library, ocr={"lexicon": ["de"]}))
    assert fewer.revision != rapid.revision


def test_a_language_without_a_word_list_is_named(settings: Settings) -> None:
    extractor = OcrExtractor(load_settings(settings.library, ocr={"lexicon": ["de", "xx"]}))
    with pytest.raises(ExtractorError, match=r"ocr.lexicon: no word list for 'xx'"):
        extractor.load()
