"""On-screen text: lines read from sampled frames, one moment per line while it stays.

Frames arrive at `ocr.sample_fps`; a frame is read when it is the first, when it differs
from the last frame read (a cut, a title appearing: the largest change of any cell of a
coarse grid), or when `ocr.every_s` has passed. Frames in between carry the last reading
forward, so a title shown for 5 s is read once and is one moment. Lines read in
consecutive readings with similar text at an overlapping place are the same line; its
moment keeps the reading with the highest confidence.

Engines: `rapidocr` (rapidocr-onnxruntime's bundled PP-OCRv4 models: good boxes, weak on
Latin text: it drops spaces and umlauts), `tesseract` (rapidocr's boxes, each line read
by the `tesseract` binary with the language packs in `ocr.languages`: reads Latin text
well, no other script without its pack), and `auto`: both, rapidocr keeping the lines it
reads in another script than Latin, Tesseract reading the rest with the packs of
`ocr.languages` that are here (without the binary or any of them, rapidocr alone: it
reads Cyrillic as Latin letters that look alike, "MacTep" for "Мастер", which the
Cyrillic pack reads again right). Each moment says which engine read it. What is read
is mended with the word lists of `ocr.lexicon` (`text.Lexicon`): accents the engine
dropped, ß read as B, œ as æ, a zero for an O, "¡" as "i".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import difflib
import functools
import os
import re
import shutil
import subprocess
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from videolearn.config import OcrSettings, Settings
from videolearn.errors import ExtractorError
from videolearn.extractors.base import (
    Extractor,
    ExtractorPass,
    Moment,
    Sampling,
    Signal,
    VideoContext,
)
from videolearn.extractors.runs import RunTracker
from videolearn.ingest.decode import FrameSampling, MediaChunk
from videolearn.text import Lexicon, lexicon, reads_as_text
from videolearn.types import TimeSpan

ENGINES = ("auto", "rapidocr", "tesseract")
_GRID = 8  # the change test's cells per side


@dataclass(frozen=True)
class TextLine:
    """A line of text in one frame: its box as fractions of the frame (x0, y0, x1, y1)."""

    text: str
    box: tuple[float, float, float, float]
    confidence: float
    engine: str = ""  # what read it, when an engine uses more than one reader


def _rapidocr(threads: int) -> Any:
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as err:
        raise ExtractorError(
            "OCR needs rapidocr-onnxruntime (pip install --no-deps rapidocr-onnxruntime==1.4.4)"
        ) from err
    return RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)


def _box_of(points: Sequence[Sequence[float]], width: int, height: int) -> tuple[float, ...]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs) / width, min(ys) / height, max(xs) / width, max(ys) / height


class RapidOcrEngine:
    """rapidocr's detector finds the lines, its recogniser reads them."""

    name = "rapidocr"

    def __init__(self, threads: int) -> None:
        self._ocr = _rapidocr(threads)

    def read(self, bgr: np.ndarray) -> list[TextLine]:
        height, width = bgr.shape[:2]
        found, _ = self._ocr(bgr, use_cls=False)
        lines = [
            TextLine(str(text).strip(), _rounded(_box_of(points, width, height)), float(conf))
            for points, text, conf in found or ()
        ]
        return [line for line in lines if line.text]


class _Tesseract:
    """libtesseract's C API (the library the `tesseract` binary is built on), loaded once
    with its language packs: a line then costs its recognition alone, where a `tesseract`
    process per line loaded every pack again (0.45 s a line for eng+deu, 1.2 s for six
    packs, here)."""

    WORD = 3  # RIL_WORD
    SINGLE_LINE = 7  # PSM_SINGLE_LINE

    def __init__(self, languages: str, threads: int, library: str = "tesseract") -> None:
        # Read by OpenMP when the library loads.
        os.environ.setdefault("OMP_THREAD_LIMIT", str(threads))
        found = ctypes.util.find_library(library)
        try:
            lib = ctypes.CDLL(found or f"lib{library}.so.5")
        except OSError:
            raise ExtractorError(
                f"the tesseract OCR engine needs lib{library} "
                "(Debian: apt-get install tesseract-ocr tesseract-ocr-deu ...)"
            ) from None
        handle, text = ctypes.c_void_p, ctypes.c_char_p
        for name, restype, argtypes in (
            ("TessBaseAPICreate", handle, []),
            ("TessBaseAPIInit3", ctypes.c_int, [handle, text, text]),
            ("TessBaseAPISetVariable", ctypes.c_int, [handle, text, text]),
            ("TessBaseAPISetPageSegMode", None, [handle, ctypes.c_int]),
            (
                "TessBaseAPISetImage",
                None,
                [handle, handle, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int],
            ),
            ("TessBaseAPIRecognize", ctypes.c_int, [handle, handle]),
            ("TessBaseAPIGetIterator", handle, [handle]),
            ("TessResultIteratorGetUTF8Text", handle, [handle, ctypes.c_int]),
            ("TessResultIteratorConfidence", ctypes.c_float, [handle, ctypes.c_int]),
            ("TessResultIteratorNext", ctypes.c_int, [handle, ctypes.c_int]),
            ("TessResultIteratorDelete", None, [handle]),
            ("TessDeleteText", None, [handle]),
            ("TessBaseAPIEnd", None, [handle]),
            ("TessBaseAPIDelete", None, [handle]),
        ):
            function = getattr(lib, name)
            function.restype, function.argtypes = restype, argtypes
        self._lib = lib
        self._api = lib.TessBaseAPICreate()
        if lib.TessBaseAPIInit3(self._api, None, languages.encode()) != 0:
            lib.TessBaseAPIDelete(self._api)
            self._api = None
            raise ExtractorError(
                f"tesseract could not load the language packs {languages!r} "
                "(Debian: apt-get install tesseract-ocr-LANG; `tesseract --list-langs` "
                "lists those installed)"
            )
        # Lines come cut out and scaled: no resolution guess, no notes on stderr.
        lib.TessBaseAPISetVariable(self._api, b"user_defined_dpi", b"300")
        lib.TessBaseAPISetVariable(self._api, b"debug_file", os.devnull.encode())
        lib.TessBaseAPISetPageSegMode(self._api, self.SINGLE_LINE)

    def words(self, grey: np.ndarray) -> list[tuple[str, float]]:
        """(word, confidence 0-1) of one line image (8-bit grey), in reading order."""
        lib, image = self._lib, np.ascontiguousarray(grey, np.uint8)
        height, width = image.shape
        lib.TessBaseAPISetImage(self._api, image.ctypes.data, width, height, 1, width)
        if lib.TessBaseAPIRecognize(self._api, None) != 0:
            raise ExtractorError("tesseract could not read a text line")
        words: list[tuple[str, float]] = []
        found = lib.TessBaseAPIGetIterator(self._api)
        if not found:
            return words
        try:
            while True:
                pointer = lib.TessResultIteratorGetUTF8Text(found, self.WORD)
                if pointer:
                    word = ctypes.string_at(pointer).decode("utf-8", errors="replace").strip()
                    lib.TessDeleteText(pointer)
                    confidence = float(lib.TessResultIteratorConfidence(found, self.WORD))
                    if word:
                        words.append((word, max(0.0, confidence) / 100))
                if not lib.TessResultIteratorNext(found, self.WORD):
                    break
        finally:
            lib.TessResultIteratorDelete(found)
        return words

    def __del__(self) -> None:
        if getattr(self, "_api", None):
            self._lib.TessBaseAPIEnd(self._api)
            self._lib.TessBaseAPIDelete(self._api)


class TesseractEngine:
    """rapidocr's detector finds the lines; Tesseract reads each one, cut out, grey and
    64 px high, binarised both ways (light text on darker ground, and dark on lighter):
    the surer reading is kept. (Otsu's one threshold over an outlined caption split the
    outline from the ground and the fill, and Tesseract read hollow letters: CER 0.38
    on the OCR bench's Latin captions, against 0.14 read both ways.)

    With `other_scripts` (the `auto` engine), rapidocr reads every line first, and a line
    it reads mostly in letters of another script than Latin (Chinese, Japanese, Korean:
    what its models were made for, and what Tesseract's Latin packs cannot read) keeps
    rapidocr's reading, as does a line Tesseract is less sure of than `sure` where
    rapidocr is sure."""

    def __init__(
        self,
        languages: str,
        threads: int,
        library: str = "tesseract",
        *,
        other_scripts: bool = False,
        sure: float = 0.7,
    ) -> None:
        self.other_scripts = other_scripts
        self.sure = sure
        self.name = f"rapidocr+tesseract:{languages}" if other_scripts else "tesseract"
        # The packs read one after another, the next only for a line the ones before were
        # unsure of: read together, Latin and Cyrillic split three of 36 Latin captions
        # into two moments, misread one, and read "to" as Cyrillic "їо". With `auto`
        # (whose packs are known to be here) each is loaded when first needed; named
        # alone, every one is loaded now, so that a missing one is said at once.
        self._packs = languages.split("+")
        self._threads, self._library = threads, library
        self._tesseracts: dict[str, _Tesseract] = {}
        for pack in self._packs[:1] if other_scripts else self._packs:
            self._tesseracts[pack] = _Tesseract(pack, threads, library)
        self._detector = _rapidocr(threads)

    def _read_line(self, images: Sequence[np.ndarray]) -> tuple[float, list[tuple[str, float]]]:
        """The surest reading of a cut-out line (its confidence and words), by the packs
        in turn until one is sure of it."""
        best: tuple[float, list[tuple[str, float]]] = (0.0, [])
        for pack in self._packs:
            if pack not in self._tesseracts:
                self._tesseracts[pack] = _Tesseract(pack, self._threads, self._library)
            readings = [self._tesseracts[pack].words(image) for image in images]
            found = max(
                ((_surety(w), w) for w in readings),
                key=lambda r: r[0] if r[1] else -1.0,  # a reading of some words first
                default=(0.0, []),
            )
            if found[1] and (not best[1] or found[0] > best[0]):
                best = found
            if best[0] >= self.sure:
                break
        return best

    def read(self, bgr: np.ndarray) -> list[TextLine]:
        height, width = bgr.shape[:2]
        found, _ = self._detector(bgr, use_cls=False, use_rec=self.other_scripts)
        lines = []
        for item in found if found is not None else ():
            points = item[0] if self.other_scripts else item
            box = _rounded(_box_of(points, width, height))
            if self.other_scripts and not _latin(str(item[1])):
                text = str(item[1]).strip()
                if text:
                    lines.append(TextLine(text, box, float(item[2]), "rapidocr"))
                continue
            confidence, words = self._read_line(_line_images(bgr, points))
            if self.other_scripts and confidence < self.sure <= float(item[2]):
                # Tesseract unsure where rapidocr is sure (yellow serif letters on a busy
                # ground: "Ferry to Qglo: 10:45;pier 3" at 0.74 against rapidocr's
                # "Ferry to 0slo: 10:45, pier 3" at 0.98): rapidocr's reading is kept.
                lines.append(TextLine(str(item[1]).strip(), box, float(item[2]), "rapidocr"))
            elif words:
                text = " ".join(w for w, _ in words)
                lines.append(TextLine(text, box, confidence, "tesseract"))
        return [line for line in lines if line.text]


def _line_images(bgr: np.ndarray, points: Sequence[Sequence[float]]) -> list[np.ndarray]:
    """One detected line cut out with a margin, grey, 64 px high, binarised as light text
    on a darker ground and as dark text on a lighter one (each side of the ground's grey,
    the median of the cut's border, split by Otsu's threshold), as black on white with a
    white border."""
    height, width = bgr.shape[:2]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, y0 = max(0, int(min(xs)) - 4), max(0, int(min(ys)) - 4)
    x1, y1 = min(width, int(max(xs)) + 4), min(height, int(max(ys)) + 4)
    grey = cv2.cvtColor(bgr[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
    scale = 64 / max(1, grey.shape[0])
    grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    ground = float(np.median(border))
    out = []
    for light in (True, False):
        side = grey[grey > ground] if light else grey[grey < ground]
        if side.size < 16:
            continue
        cut, _ = cv2.threshold(side.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        text = grey > cut if light else grey < cut
        binary = np.where(text, 0, 255).astype(np.uint8)
        out.append(cv2.copyMakeBorder(binary, 16, 16, 16, 16, cv2.BORDER_CONSTANT, value=255))
    return out


def _rounded(box: tuple[float, ...]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (round(min(1.0, max(0.0, v)), 4) for v in box)
    return x0, y0, x1, y1


def _surety(words: Sequence[tuple[str, float]]) -> float:
    """A line's confidence: its words' mean (0 for none)."""
    return float(np.mean([c for _, c in words])) if words else 0.0


def _latin(text: str) -> bool:
    """Whether most of the letters of `text` (as rapidocr read it) are Latin ones (a line
    of digits and signs alone counts as Latin)."""
    letters = [c for c in text if c.isalpha()]
    latin = sum(unicodedata.name(c, "").startswith("LATIN") for c in letters)
    return latin * 2 >= len(letters)


@functools.cache
def tesseract_languages(binary: str = "tesseract") -> frozenset[str]:
    """The language packs the `tesseract` binary has (none when it is missing)."""
    path = shutil.which(binary)
    if path is None:
        return frozenset()
    try:
        done = subprocess.run(
            [path, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    return frozenset(line.strip() for line in done.stdout.splitlines()[1:] if line.strip())


def engine_name(settings: OcrSettings) -> str:
    """The engine `settings` give on this machine: `auto` is rapidocr with Tesseract
    reading the lines in Latin letters with the packs of `ocr.languages` that are here
    (in their order), else rapidocr alone."""
    if settings.engine != "auto":
        return settings.engine
    packs = installed_packs(settings)
    return f"rapidocr+tesseract:{packs}" if packs else "rapidocr"


def installed_packs(settings: OcrSettings) -> str:
    """The packs of `ocr.languages` that Tesseract has here, joined with "+" as given
    ("" when it has none, or is missing)."""
    have = tesseract_languages()
    return "+".join(pack for pack in settings.languages.split("+") if pack in have)


# Debian's packages of Tesseract's script packs (language packs are tesseract-ocr-NAME).
_SCRIPT_PACKAGES = {
    "Latin": "tesseract-ocr-script-latn",
    "Cyrillic": "tesseract-ocr-script-cyrl",
    "Greek": "tesseract-ocr-script-grek",
    "Arabic": "tesseract-ocr-script-arab",
}


def missing_packs(settings: OcrSettings) -> dict[str, str]:
    """The packs of `ocr.languages` Tesseract lacks here, each with the Debian package
    that has it."""
    have = tesseract_languages()
    return {
        pack: _SCRIPT_PACKAGES.get(pack, "tesseract-ocr-" + pack.lower().replace("_", "-"))
        for pack in settings.languages.split("+")
        if pack not in have
    }


def make_engine(settings: OcrSettings) -> RapidOcrEngine | TesseractEngine:
    name = engine_name(settings)
    sure = settings.min_confidence  # when a pack's reading ends the turn, with either engine
    if name == "tesseract":
        return TesseractEngine(settings.languages, settings.threads, sure=sure)
    if name.startswith("rapidocr+tesseract:"):
        packs = name.removeprefix("rapidocr+tesseract:")
        return TesseractEngine(packs, settings.threads, other_scripts=True, sure=sure)
    return RapidOcrEngine(settings.threads)


def _normal(text: str) -> str:
    return re.sub(r"\W+", "", text.casefold())


def same_line(a: TextLine, b: TextLine, min_similarity: float = 0.8) -> bool:
    """Similar text (ignoring case, spaces and punctuation) in overlapping boxes."""
    ax0, ay0, ax1, ay1 = a.box
    bx0, by0, bx1, by1 = b.box
    overlap = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    smaller = min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0))
    if smaller <= 0 or overlap / smaller < 0.3:
        return False
    na, nb = _normal(a.text), _normal(b.text)
    return na == nb or difflib.SequenceMatcher(None, na, nb).ratio() >= min_similarity


def change(a: np.ndarray, b: np.ndarray) -> float:
    """The largest mean absolute difference (0-255) of any cell of an 8 x 8 grid between
    two grey frames of one size (at full size: thin strokes of text survive)."""
    diff = cv2.absdiff(a, b)
    h, w = diff.shape
    means = cv2.resize(diff, (_GRID, _GRID), interpolation=cv2.INTER_AREA)
    return float(means.max()) if h >= _GRID and w >= _GRID else float(diff.mean())


class TextTracker(RunTracker[TextLine]):
    """Readings of frames in, a `text` moment per line while readings keep finding it (the
    line read with the highest confidence, its box, the engine)."""

    def __init__(self, engine: str, step_s: float) -> None:
        def moment(line: TextLine, span: TimeSpan) -> Moment:
            return Moment(
                span,
                "text",
                text=line.text,
                score=round(line.confidence, 4),
                attrs={"box": list(line.box), "engine": line.engine or engine},
            )

        super().__init__(step_s, same_line, lambda line: line.confidence, moment)

    def finish(self, end_s: float) -> list[Moment]:
        return sorted(super().finish(end_s), key=lambda m: (m.span.start_s, m.span.end_s, m.text))


class OcrExtractor(Extractor):
    """On-screen text lines as `text` moments, with their box and the engine that read them."""

    name = "ocr"
    # 2: readings without a letter or a digit (a shape read as "■") are not text.
    # 3: nor a lone word of two letters in an alphabet (`text.reads_as_text`).
    # 4: words mended in the line's language (`ocr.lexicon`).
    version = 4
    signal_type = Moment
    family = "onnxruntime"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.options: OcrSettings = settings.ocr
        self.sampling = Sampling(
            frames=FrameSampling(self.options.sample_fps, self.options.width_px, "bgr24")
        )
        # The engine in use here and the word lists: installing Tesseract or a pack, or
        # naming other languages, re-reads the library.
        words = "+".join(self.options.lexicon)
        self.revision = engine_name(self.options) + (f" words:{words}" if words else "")
        self._engine: RapidOcrEngine | TesseractEngine | None = None
        self._lexicon: Lexicon | None = None

    def load(self) -> None:
        if self._engine is None:
            self._engine = make_engine(self.options)
        if self._lexicon is None and self.options.lexicon:
            self._lexicon = _word_lists(self.options.lexicon)

    def begin(self, video: VideoContext) -> ExtractorPass:
        self.load()
        assert self._engine is not None
        return _OcrPass(self, self._engine, self._lexicon)


def _word_lists(languages: tuple[str, ...]) -> Lexicon:
    """The word lists of `ocr.lexicon`, or a clear error naming the languages without one."""
    from wordfreq import available_languages

    missing = [code for code in languages if code not in available_languages("small")]
    if missing:
        raise ExtractorError(
            f"ocr.lexicon: no word list for {', '.join(map(repr, missing))} (wordfreq has: "
            f"{', '.join(sorted(available_languages('small')))})"
        )
    return lexicon(languages)


class _OcrPass(ExtractorPass):
    def __init__(self, extractor: OcrExtractor, engine: Any, words: Lexicon | None) -> None:
        self.options = extractor.options
        self.frames_of = extractor.frames_of
        self.engine = engine
        self.words = words
        self.tracker = TextTracker(engine.name, 1.0 / self.options.sample_fps)
        self.last_grey: np.ndarray | None = None
        self.last_read_s = -np.inf
        self.last_s = 0.0

    def feed(self, chunk: MediaChunk) -> Iterable[Signal]:
        batch = self.frames_of(chunk)
        if batch is None:
            return ()
        o = self.options
        for image, time_s in zip(batch.frames, batch.times_s, strict=True):
            t = float(time_s)
            self.last_s = t
            grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            if (
                self.last_grey is not None
                and t - self.last_read_s < o.every_s
                and change(grey, self.last_grey) < o.change
            ):
                self.tracker.unchanged(t)
                continue
            lines = [
                ln if self.words is None else replace(ln, text=self.words.mend(ln.text))
                for ln in self.engine.read(image)
                if ln.confidence >= o.min_confidence and reads_as_text(ln.text)
            ]
            self.tracker.reading(t, lines)
            self.last_grey, self.last_read_s = grey, t
        return ()

    def finish(self, end_s: float, earlier: Mapping[str, Sequence[Signal]]) -> Iterable[Signal]:
        return self.tracker.finish(max(end_s, self.last_s))
