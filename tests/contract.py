"""The contract every extractor's tests inherit.

Subclass `ExtractorContract`, set `extractor_class`, and the suite checks: a well-formed
name and version, outputs of the declared type, spans inside the video, the same output
twice on the same input, and a round trip through the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from videolearn.config import Settings, load_settings
from videolearn.extractors.base import Extractor, Signal, VideoContext
from videolearn.extractors.registry import available_extractors, validate_extractor_class
from videolearn.extractors.runner import decode_request, run_extractors
from videolearn.ingest.decode import MediaChunk, open_media
from videolearn.ingest.scan import identify
from videolearn.samples import BLUE, GREEN, RED, write_video
from videolearn.store import ExtractorOutput, open_store
from videolearn.store.tables import ROW_TYPES, VideoRow


def run_extractor(
    name: str, media_file: Path, settings: Settings
) -> tuple[VideoContext, list[Signal]]:
    """One extractor and the ones it needs or reads, fed from one decode like the runner
    does."""
    classes = available_extractors()
    wanted = [name]
    for needed in wanted:
        inputs = (*classes[needed].needs, *classes[needed].reads)
        wanted.extend(n for n in inputs if n in classes and n not in wanted)
    extractors = [cls(settings) for n, cls in classes.items() if n in wanted]
    for ex in extractors:
        ex.load()
    identity = identify(media_file, settings.decode.max_file_size_bytes)
    with open_media(media_file, settings.decode) as media:
        chunks: list[MediaChunk] = list(media.iter_chunks(decode_request(extractors)))
        video = VideoContext(identity.sha256, media_file, media.info, identity)
    return video, run_extractors(extractors, video, chunks)[name]


class ExtractorContract:
    extractor_class: ClassVar[type[Extractor]]

    @pytest.fixture(scope="class")
    @classmethod
    def media_file(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        folder = tmp_path_factory.mktemp("contract")
        return write_video(folder / "clip.mp4", [(RED, 1.0), (GREEN, 1.0), (BLUE, 1.0)])

    @pytest.fixture(scope="class")
    @classmethod
    def contract_settings(cls, tmp_path_factory: pytest.TempPathFactory) -> Settings:
        return load_settings(tmp_path_factory.mktemp("lib") / "library", keep_versions_s=0)

    def _run(self, media_file: Path, settings: Settings) -> tuple[VideoContext, list[Signal]]:
        return run_extractor(self.extractor_class.name, media_file, settings)

    def test_declarations(self) -> None:
        validate_extractor_class(self.extractor_class)
        assert self.extractor_class.name in available_extractors()

    def test_outputs_have_declared_type_and_spans_inside_video(
        self, media_file: Path, contract_settings: Settings
    ) -> None:
        video, signals = self._run(media_file, contract_settings)
        assert signals, "the extractor produced nothing on a 3-shot clip"
        for sig in signals:
            assert isinstance(sig, self.extractor_class.signal_type)
            assert 0.0 <= sig.span.start_s <= sig.span.end_s
            assert sig.span.end_s <= video.info.duration_s + 0.1

    def test_deterministic(self, media_file: Path, contract_settings: Settings) -> None:
        _, first = self._run(media_file, contract_settings)
        _, second = self._run(media_file, contract_settings)
        assert first == second

    def test_round_trip_through_store(self, media_file: Path, contract_settings: Settings) -> None:
        video, signals = self._run(media_file, contract_settings)
        store = open_store(contract_settings.library, create=True)
        try:
            ex = self.extractor_class
            store.write_video(
                VideoRow(video.video_id, str(media_file), duration_s=3.0),
                [ExtractorOutput(ex.name, ex.version, signals)],
            )
            stored = [
                row for row_type in ROW_TYPES for row in store.rows_of(row_type, video.video_id)
            ]
            assert len(stored) == len(signals)
            assert {r.span for r in stored} == {s.span for s in signals}
            assert all(r.extractor == ex.name and r.extractor_version == ex.version for r in stored)
        finally:
            store.delete_video(video.video_id)
            store.close()
