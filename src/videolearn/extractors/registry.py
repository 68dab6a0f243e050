"""Which extractors exist: the built-ins plus any installed under the entry-point group
`videolearn.extractors`. CLI, API and UI find extractors here and nowhere else."""

from __future__ import annotations

from importlib.metadata import entry_points

from videolearn.errors import ExtractorError
from videolearn.extractors.base import NAME_PATTERN, Extractor
from videolearn.extractors.builtin import BUILTIN_EXTRACTORS
from videolearn.extractors.clip import ClipExtractor, transformers_installed
from videolearn.extractors.hashes import (
    PdqExtractor,
    VpdqCroppedExtractor,
    VpdqExtractor,
    VpdqTilesExtractor,
)
from videolearn.extractors.nudity import NudityExtractor, nudenet_installed
from videolearn.extractors.ocr import OcrExtractor
from videolearn.extractors.sounds import SoundsExtractor
from videolearn.extractors.speech import SpeechExtractor
from videolearn.extractors.text_embed import TextEmbedExtractor

ENTRY_POINT_GROUP = "videolearn.extractors"


def validate_extractor_class(cls: type[Extractor]) -> None:
    """Check an extractor's declarations. Raises ExtractorError naming what is wrong."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ExtractorError(f"{cls.__qualname__}: name {name!r} must match {NAME_PATTERN.pattern}")
    version = getattr(cls, "version", None)
    if not isinstance(version, int) or version < 1:
        raise ExtractorError(f"extractor {name}: version {version!r} must be an int >= 1")
    if not hasattr(cls, "signal_type"):
        raise ExtractorError(f"extractor {name}: no signal_type declared")


def available_extractors() -> dict[str, type[Extractor]]:
    """Every extractor class by name, built-ins first, in a dependency-respecting order."""
    found: dict[str, type[Extractor]] = {}
    classes: list[type[Extractor]] = [
        *BUILTIN_EXTRACTORS,
        PdqExtractor,
        VpdqExtractor,
        VpdqCroppedExtractor,
        VpdqTilesExtractor,
        SpeechExtractor,
        SoundsExtractor,
        OcrExtractor,
        TextEmbedExtractor,
    ]
    if nudenet_installed():  # the optional nsfw extra
        classes.append(NudityExtractor)
    if transformers_installed():  # the optional clip extra
        classes.append(ClipExtractor)
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        loaded = ep.load()
        if not (isinstance(loaded, type) and issubclass(loaded, Extractor)):
            raise ExtractorError(f"entry point {ep.name!r} is not an Extractor subclass")
        classes.append(loaded)
    for cls in classes:
        validate_extractor_class(cls)
        if cls.name in found:
            raise ExtractorError(f"two extractors are named {cls.name!r}")
        found[cls.name] = cls
    return {cls.name: cls for cls in order_by_needs(list(found.values()))}


def order_by_needs(classes: list[type[Extractor]]) -> list[type[Extractor]]:
    """Sort so that every extractor comes after those it needs and those it reads (when
    they are enabled). Raises on a missing need or a cycle."""
    by_name = {c.name: c for c in classes}
    ordered: list[type[Extractor]] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(cls: type[Extractor]) -> None:
        if state.get(cls.name) == 2:
            return
        if state.get(cls.name) == 1:
            raise ExtractorError(f"extractor {cls.name}: its needs form a cycle")
        state[cls.name] = 1
        for need in cls.needs:
            if need not in by_name:
                raise ExtractorError(f"extractor {cls.name} needs {need!r}, which is not enabled")
            visit(by_name[need])
        for read in cls.reads:
            if read in by_name:
                visit(by_name[read])
        state[cls.name] = 2
        ordered.append(cls)

    for cls in classes:
        visit(cls)
    return ordered
