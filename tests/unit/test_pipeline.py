"""The index pipeline's hooks: work that follows each stored video, registered like a
plug-in, told of every stored video with its signals, and a failing hook costs its file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.plugins import install_plugin
from videolearn.apps import catalog
from videolearn.config import load_settings
from videolearn.library import open_library
from videolearn.pipeline import IndexStatus, available_hooks
from videolearn.samples import BLUE, RED, write_video

RECORDER = """
import json
from pathlib import Path

class Recorder:
    name = "recorder"

    def __init__(self, store, settings):
        self.out = Path(settings.library) / "seen.jsonl"

    def video_stored(self, video):
        if "bad" in video.path:
            raise RuntimeError("cannot take this one")
        line = {"id": video.video_id, "md5": video.md5, "shots": len(video.signals["shots"])}
        with self.out.open("a") as f:
            f.write(json.dumps(line) + "\\n")

    def run_finished(self):
        with self.out.open("a") as f:
            f.write(json.dumps({"run": "finished"}) + "\\n")
"""


def test_matching_moderation_and_themes_are_hooks_like_any_other() -> None:
    hooks, problems = available_hooks()
    assert [h.name for h in hooks] == ["matching", "moderation", "themes"] and problems == []


def test_a_hook_is_told_of_each_stored_video_and_a_failing_hook_fails_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin(tmp_path, monkeypatch, "recorder", "Recorder", RECORDER, "videolearn.hooks")
    media = tmp_path / "media"
    media.mkdir()
    write_video(media / "good.mp4", [(RED, 1.0), (BLUE, 1.0)])
    write_video(media / "bad.mp4", [(BLUE, 1.0)])
    settings = load_settings(tmp_path / "lib", extractors=["file_hash", "shots"])
    with open_library(create=True, settings=settings) as lib:
        results = {Path(r.path).name: r for r in lib.index([media])}
        seen = [json.loads(x) for x in (tmp_path / "lib" / "seen.jsonl").read_text().splitlines()]
        good = catalog.show(lib, str(media / "good.mp4"))
        assert seen == [
            {"id": good.video.video_id, "md5": good.hashes["md5"], "shots": 2},
            {"run": "finished"},
        ]
        assert results["good.mp4"].status == IndexStatus.INDEXED
        bad = results["bad.mp4"]
        assert bad.status == IndexStatus.FAILED
        assert bad.reason == "recorder failed after storing: RuntimeError: cannot take this one"
        # Its rows are stored: the hook's failure is its own, not the video's.
        assert catalog.show(lib, str(media / "bad.mp4")).moments
        assert [f.path for f in catalog.status(lib).failures] == [str(media / "bad.mp4")]


COUNTED = """
import os
from pathlib import Path
from videolearn.extractors.builtin import ShotsExtractor

class {cls}(ShotsExtractor):
    name = "{name}"

    def __init__(self, settings):
        super().__init__(settings)
        self.revision = os.environ.get("{name}_REVISION".upper(), "a")
        self.log = Path(settings.library) / "{name}.log"

    def begin(self, video):
        with self.log.open("a") as f:
            f.write(video.path.name + "\\n")
        return super().begin(video)
"""

PARTIAL = """
import json
from pathlib import Path

class Partial:
    name = "partial"

    def __init__(self, store, settings):
        self.out = Path(settings.library) / "told.jsonl"

    def video_stored(self, video):
        line = {"signals": sorted(video.signals), "partial": video.partial}
        with self.out.open("a") as f:
            f.write(json.dumps(line) + "\\n")

    def run_finished(self):
        pass
"""


def _extractors_of(lib: object, video_id: str) -> set[str]:
    from videolearn.store.tables import ROW_TYPES

    store = lib.store  # type: ignore[attr-defined]
    return {r.extractor for row_type in ROW_TYPES for r in store.rows_of(row_type, video_id)}


def test_only_the_extractors_whose_version_changed_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module, cls in (("changes", "Changes"), ("stays", "Stays")):
        source = COUNTED.format(cls=cls, name=module)
        install_plugin(tmp_path, monkeypatch, module, cls, source)
    install_plugin(tmp_path, monkeypatch, "partial", "Partial", PARTIAL, "videolearn.hooks")
    media = tmp_path / "media"
    media.mkdir()
    write_video(media / "one.mp4", [(RED, 1.0), (BLUE, 1.0)])
    write_video(media / "two.mp4", [(BLUE, 1.0)])
    library = tmp_path / "lib"
    names = ["file_hash", "shots", "changes", "stays"]
    log = {name: library / f"{name}.log" for name in ("changes", "stays")}

    def runs(name: str) -> list[str]:
        return sorted(log[name].read_text().split()) if log[name].exists() else []

    with open_library(create=True, settings=load_settings(library, extractors=names)) as lib:
        first = {Path(r.path).name: r.video_id for r in lib.index([media])}
        assert runs("changes") == runs("stays") == ["one.mp4", "two.mp4"]
        (library / "told.jsonl").unlink()

        monkeypatch.setenv("CHANGES_REVISION", "b")  # new weights for one extractor
    with open_library(settings=load_settings(library, extractors=names)) as lib:
        results = lib.index([media])
        assert [r.status for r in results] == [IndexStatus.INDEXED] * 2
        assert [(r.ran_again, r.dropped) for r in results] == [(("changes",), ())] * 2
        assert results[0].note() == "ran again: changes"
        assert runs("changes") == ["one.mp4", "one.mp4", "two.mp4", "two.mp4"]
        assert runs("stays") == ["one.mp4", "two.mp4"]  # not run again
        told = [json.loads(x) for x in (library / "told.jsonl").read_text().splitlines()]
        assert told == [{"signals": ["changes"], "partial": True}] * 2
        for name, video_id in first.items():
            shown = catalog.show(lib, str(media / name)).video
            assert shown.extractors["changes"] == "1:b" and shown.extractors["stays"] == "1:a"
            assert _extractors_of(lib, video_id) == {"file_hash", "shots", "changes", "stays"}
        assert [r.status for r in lib.index([media])] == [IndexStatus.UNCHANGED] * 2

    fewer = ["file_hash", "shots", "changes"]  # one switched off: its rows go, nothing runs
    with open_library(settings=load_settings(library, extractors=fewer)) as lib:
        results = lib.index([media])
        assert [r.status for r in results] == [IndexStatus.INDEXED] * 2
        assert [r.to_json()["dropped"] for r in results] == [["stays"]] * 2
        assert len(runs("changes")) == 4 and len(runs("stays")) == 2
        for name, video_id in first.items():
            assert "stays" not in catalog.show(lib, str(media / name)).video.extractors
            assert _extractors_of(lib, video_id) == {"file_hash", "shots", "changes"}
        assert [r.status for r in lib.index([media])] == [IndexStatus.UNCHANGED] * 2


def test_a_family_worker_whose_extractors_are_current_is_left_out_of_a_partial_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from videolearn.samples import song, write_av

    install_plugin(
        tmp_path, monkeypatch, "changes", "Changes", COUNTED.format(cls="Changes", name="changes")
    )
    media = tmp_path / "media"
    media.mkdir()
    frames = np.full((60, 48, 64, 3), 90, np.uint8)
    write_av(media / "song.mp4", frames, 10, song(6, seed=4), 16_000)
    library = tmp_path / "lib"
    # `sounds` runs in the onnxruntime family's worker process, which reads the sound itself.
    settings = load_settings(library, extractors=["file_hash", "sounds", "changes"])
    assert settings.workers.processes
    with open_library(create=True, settings=settings) as lib:
        [first] = lib.index([media])
        before = _extractors_of(lib, first.video_id)
        assert "sounds" in before
        tagged = catalog.show(lib, str(media / "song.mp4")).video.extractors["sounds"]
    # A new file first: the families' workers start for it, and the stored one then runs
    # `changes` alone beside them.
    write_av(media / "a-new.mp4", frames, 10, song(6, seed=5), 16_000)
    monkeypatch.setenv("CHANGES_REVISION", "b")
    with open_library(
        settings=load_settings(library, extractors=["file_hash", "sounds", "changes"])
    ) as lib:
        new, again = lib.index([media])
        assert Path(new.path).name == "a-new.mp4" and new.status == IndexStatus.INDEXED
        assert "sounds" in _extractors_of(lib, new.video_id)
        assert again.status == IndexStatus.INDEXED, again.reason
        assert _extractors_of(lib, first.video_id) == before
        shown = catalog.show(lib, str(media / "song.mp4")).video.extractors
        assert shown["sounds"] == tagged and shown["changes"] == "1:b"
