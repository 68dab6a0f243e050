"""Which extractors exist: the built-ins plus any installed under the entry-point group
`videolearn.extractors`. CLI, API and UI find extractors here and nowhere else.

A plug-in that fails to load, is not an `Extractor`, is misdeclared or takes a name
already taken is skipped and reported (`extractor_problems`; `status` and `doctor` show
it): a broken package costs its own extractor, not the run.
"""

from __future__ import annotations

from videolearn.errors import ExtractorError
from videolearn.extractors.base import NAME_PATTERN, Extractor
from videolearn.extractors.builtin import (
    FileHashExtractor,
    MediaInfoExtractor,
    ShotsExtractor,
    ThumbnailsExtractor,
)
from videolearn.extractors.clip import ClipExtractor
from videolearn.extractors.fingerprint import FingerprintExtractor
from videolearn.extractors.hashes import (
    PdqExtractor,
    VpdqCroppedExtractor,
    VpdqExtractor,
    VpdqTilesExtractor,
)
from videolearn.extractors.nudity import NudityExtractor
from videolearn.extractors.ocr import OcrExtractor
from videolearn.extractors.sketch import SketchExtractor
from videolearn.extractors.sounds import SoundsExtractor
from videolearn.extractors.speech import SpeechExtractor
from videolearn.extractors.text_embed import TextEmbedExtractor
from videolearn.plugins import PluginProblem, load_plugins

ENTRY_POINT_GROUP = "videolearn.extractors"

# Every built-in extractor, in the order they are listed; those whose optional extra is
# not installed (`Extractor.installed`) are left out.
BUILTIN_EXTRACTORS: tuple[type[Extractor], ...] = (
    FileHashExtractor,
    MediaInfoExtractor,
    ShotsExtractor,
    ThumbnailsExtractor,
    PdqExtractor,
    VpdqExtractor,
    VpdqCroppedExtractor,
    VpdqTilesExtractor,
    SketchExtractor,
    SpeechExtractor,
    SoundsExtractor,
    FingerprintExtractor,
    OcrExtractor,
    TextEmbedExtractor,
    NudityExtractor,
    ClipExtractor,
)


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


def _check_plugin(obj: object) -> str | None:
    if not (isinstance(obj, type) and issubclass(obj, Extractor)):
        return f"{obj!r} is not an Extractor subclass"
    try:
        validate_extractor_class(obj)
    except ExtractorError as err:
        return str(err)
    return None


def available_extractors() -> dict[str, type[Extractor]]:
    """Every extractor class by name, built-ins first, in a dependency-respecting order."""
    return dict(_discover()[0])


def extractor_problems() -> list[PluginProblem]:
    """The extractor plug-ins that were skipped, and why."""
    return list(_discover()[1])


def _discover() -> tuple[dict[str, type[Extractor]], tuple[PluginProblem, ...]]:
    found: dict[str, type[Extractor]] = {}
    for cls in BUILTIN_EXTRACTORS:
        if cls.installed():
            validate_extractor_class(cls)
            found[cls.name] = cls
    plugins, problems = load_plugins(ENTRY_POINT_GROUP, _check_plugin)
    for ep_name, obj in plugins:
        assert isinstance(obj, type) and issubclass(obj, Extractor)
        if obj.name in found:
            problems.append(
                PluginProblem(
                    ENTRY_POINT_GROUP, ep_name, f"another extractor is already named {obj.name!r}"
                )
            )
            continue
        found[obj.name] = obj
    for ep_name, obj in plugins:
        assert isinstance(obj, type) and issubclass(obj, Extractor)
        missing = [n for n in obj.needs if n not in found]
        if found.get(obj.name) is obj and missing:
            del found[obj.name]
            problems.append(
                PluginProblem(
                    ENTRY_POINT_GROUP, ep_name, f"it needs {', '.join(missing)}, which do not exist"
                )
            )
    ordered = {cls.name: cls for cls in order_by_needs(list(found.values()))}
    return ordered, tuple(problems)


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
