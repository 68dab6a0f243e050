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
