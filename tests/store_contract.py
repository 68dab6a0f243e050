"""The suite every store implementation passes: subclass `StoreContract`, say how to open a
store on a fresh library and how to leave a write cut short, and every test here runs
against it (`tests/unit/test_store.py` does so for the embedded store).

It holds the store to what `store.base.Store` promises: typed rows back as they went in,
writes that are upserts on stable keys, readers that never see half a video, searches and
their filters, the one-writer lock, and ids and kinds checked before they reach a query.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from videolearn.errors import LibraryLockedError, LibraryNotFoundError, VideoNotFoundError
from videolearn.extractors.base import (
    TEXT_VECTOR_DIM,
    Embedding,
    Moment,
    TextEmbedding,
    Thumbnail,
    ValueSignal,
)
from videolearn.store import ExtractorOutput, Store
from videolearn.store.ledger import FileStatus
from videolearn.store.tables import (
    ROW_TYPES,
    EmbeddingRow,
    MomentRow,
    SignalRow,
    TextVectorRow,
    ThumbnailRow,
    VideoRow,
)
from videolearn.types import TimeSpan

A, B, C = ("a" * 64, "b" * 64, "ab" + "c" * 62)


def _unit(seed: int, dim: int = TEXT_VECTOR_DIM) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return x / np.linalg.norm(x)


def _outputs(video_id: str, words: str = "harbour ferry at dawn") -> list[ExtractorOutput]:
    """One extractor output per table: what a real index run hands the store."""
    seed = int(video_id[:8], 16) % 1000
    return [
        ExtractorOutput("file_hash", 1, [ValueSignal(TimeSpan(0, 4), "md5", video_id[:32])]),
        ExtractorOutput(
            "speech",
            2,
            [
                Moment(TimeSpan(0, 2), "speech", text=words, attrs={"language": "en"}),
                Moment(TimeSpan(2, 4), "speech", text="guten morgen", attrs={"language": "de"}),
            ],
            revision="tiny",
        ),
        ExtractorOutput("sounds", 1, [Moment(TimeSpan(1, 3), "audio", label="Music", score=0.75)]),
        ExtractorOutput("thumbs", 1, [Thumbnail(TimeSpan(0, 1), b"\xff\xd8jpeg", 32, 18)]),
        ExtractorOutput(
            "av_embed",
            1,
            [Embedding(TimeSpan(0, 2), "av_video", _unit(seed, 8), "av.pt")],
        ),
        ExtractorOutput(
            "text_embed",
            2,
            [TextEmbedding(TimeSpan(0, 2), "e5_speech", _unit(seed), "e5", words)],
        ),
    ]


class StoreContract(ABC):
    """Tests every `Store` passes. Subclasses implement `open` and `cut_short`."""

    @abstractmethod
    def open(self, root: Path, create: bool) -> Store:
        """A store on the library at `root` (made when `create`)."""

    @abstractmethod
    def cut_short(self, store: Store, video_id: str) -> None:
        """Leave `video_id` as a crash between its derived rows and its video row would."""

    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        return tmp_path / "library"

    @pytest.fixture
    def store(self, root: Path) -> Iterator[Store]:
        store = self.open(root, create=True)
        yield store
        store.close()

    def write(self, store: Store, video_id: str, path: str = "", **kw: str) -> None:
        store.write_video(
            VideoRow(video_id, path or f"/v/{video_id[:4]}.mp4"), _outputs(video_id, **kw)
        )

    # -- opening ------------------------------------------------------------------------

    def test_a_missing_library_is_not_made_unless_asked(self, root: Path) -> None:
        with pytest.raises(LibraryNotFoundError, match="not a videolearn library"):
            self.open(root, create=False)

    def test_a_new_store_is_empty(self, store: Store) -> None:
        assert store.videos() == [] and store.video_ids() == set()
        assert set(store.table_counts().values()) == {0}
        assert store.orphan_video_ids() == set()
        assert store.search_text("harbour") == []

    def test_what_was_written_is_there_after_reopening(self, store: Store, root: Path) -> None:
        self.write(store, A)
        store.close()
        again = self.open(root, create=False)
        try:
            assert again.video_ids() == {A}
            assert len(again.rows_of(MomentRow, A)) == 3
        finally:
            again.close()

    # -- writing ------------------------------------------------------------------------

    def test_rows_read_back_typed_as_they_went_in(self, store: Store) -> None:
        outputs = _outputs(A)
        store.write_video(VideoRow(A, "/v/a.mp4", size_bytes=10, duration_s=4.0), outputs)
        video = store.get_video(A)
        assert video == VideoRow(
            A,
            "/v/a.mp4",
            size_bytes=10,
            duration_s=4.0,
            extractors={
                o.name: (f"{o.version}:tiny" if o.revision else o.version) for o in outputs
            },
        )
        (md5,) = store.rows_of(SignalRow, A)
        assert (md5.kind, md5.value, md5.span, md5.extractor) == (
            "md5",
            A[:32],
            TimeSpan(0, 4),
            "file_hash",
        )
        assert md5.key == f"{A}:file_hash:1:0"
        moments = store.rows_of(MomentRow, A)
        assert [(m.span, m.modality, m.extractor) for m in moments] == [
            (TimeSpan(0, 2), "speech", "speech"),
            (TimeSpan(1, 3), "audio", "sounds"),
            (TimeSpan(2, 4), "speech", "speech"),
        ]
        assert [m.language for m in moments] == ["en", None, "de"]
        assert moments[0].text == "harbour ferry at dawn" and moments[0].label == ""
        assert moments[1].label == "Music" and moments[1].score == pytest.approx(0.75)
        (thumb,) = store.rows_of(ThumbnailRow, A)
        assert (thumb.jpeg, thumb.width_px, thumb.height_px) == (b"\xff\xd8jpeg", 32, 18)
        (learned,) = store.rows_of(EmbeddingRow, A)
        assert (learned.kind, learned.model, len(learned.vector)) == ("av_video", "av.pt", 8)
        expected = outputs[4].signals[0]
        assert isinstance(expected, Embedding)
        np.testing.assert_allclose(learned.vector, expected.vector, rtol=1e-6)
        (text,) = store.rows_of(TextVectorRow, A)
        assert (text.kind, text.text, len(text.vector)) == (
            "e5_speech",
            "harbour ferry at dawn",
            384,
        )

    def test_writing_again_changes_nothing(self, store: Store) -> None:
        self.write(store, A)
        before = {t: store.rows_of(t, A) for t in ROW_TYPES}
        counts = dict(store.table_counts())
        self.write(store, A)
        assert {t: store.rows_of(t, A) for t in ROW_TYPES} == before
        assert dict(store.table_counts()) == counts

    def test_videos_are_read_by_their_ids_in_the_order_asked(self, store: Store) -> None:
        self.write(store, A)
        self.write(store, B)
        assert [v.video_id for v in store.videos_of([B, C, A])] == [B, A]
        assert store.videos_of([]) == []
        with pytest.raises(ValueError, match="video id"):
            store.videos_of(["x' OR '1'='1"])

    def test_a_rewrite_keeps_only_what_it_wrote(self, store: Store) -> None:
        self.write(store, A)
        self.write(store, B)
        hashes_only = [
            ExtractorOutput("file_hash", 1, [ValueSignal(TimeSpan(0, 4), "md5", "0" * 32)])
        ]
        store.write_video(VideoRow(A, "/v/a.mp4"), hashes_only)
        assert [r.value for r in store.rows_of(SignalRow, A)] == ["0" * 32]
        for row_type in ROW_TYPES[:1] + ROW_TYPES[2:]:
            assert store.rows_of(row_type, A) == [], row_type
        video = store.get_video(A)
        assert video is not None and video.extractors == {"file_hash": 1}
        assert len(store.rows_of(MomentRow, B)) == 3  # the other video untouched

    def test_a_rewrite_after_maintenance_drops_the_rows_it_did_not_write(
        self, store: Store
    ) -> None:
        self.write(store, A)
        self.write(store, B)
        store.maintain(vector_index_min_rows=1, keep_versions_s=0)
        outputs = _outputs(A)
        speech = outputs[1]
        # A new speech version with one moment where there were two: new keys, one row.
        outputs[1] = ExtractorOutput("speech", 3, speech.signals[:1], revision="tiny")
        store.write_video(VideoRow(A, "/v/a.mp4"), outputs)
        spoken = [r for r in store.rows_of(MomentRow, A) if r.extractor == "speech"]
        assert [(r.text, r.extractor_version) for r in spoken] == [("harbour ferry at dawn", 3)]
        assert len(store.rows_of(MomentRow, B)) == 3
        video = store.get_video(A)
        assert video is not None and video.extractors["speech"] == "3:tiny"
        assert [h.video_id for h in store.search_text("guten")] == [B]
        counts = dict(store.table_counts())
        store.write_video(VideoRow(A, "/v/a.mp4"), outputs)  # again: nothing added
        assert dict(store.table_counts()) == counts

    def test_some_extractors_rows_are_replaced_and_the_rest_kept(self, store: Store) -> None:
        self.write(store, A)
        self.write(store, B)
        others = {t: [r for r in store.rows_of(t, A) if r.extractor != "speech"] for t in ROW_TYPES}
        # A new speech version with one moment where there were two, and no `sounds`.
        speech = ExtractorOutput("speech", 3, _outputs(A)[1].signals[:1], revision="tiny")
        store.replace_outputs(A, [speech], dropped=["sounds"])
        spoken = [r for r in store.rows_of(MomentRow, A) if r.extractor == "speech"]
        assert [(r.text, r.extractor_version) for r in spoken] == [("harbour ferry at dawn", 3)]
        kept = {t: [r for r in store.rows_of(t, A) if r.extractor != "speech"] for t in ROW_TYPES}
        assert kept == {
            t: [r for r in rows if r.extractor != "sounds"] for t, rows in others.items()
        }
        video = store.get_video(A)
        assert video is not None and video.path == "/v/aaaa.mp4"  # the stored row kept
        assert video.extractors["speech"] == "3:tiny" and "sounds" not in video.extractors
        assert len(store.rows_of(MomentRow, B)) == 3  # the other video untouched
        assert [h.video_id for h in store.search_text("guten")] == [B]
        with pytest.raises(VideoNotFoundError):
            store.replace_outputs(C, [speech])

    def test_the_state_changes_with_every_write_and_only_then(self, store: Store) -> None:
        seen = [store.state()]
        self.write(store, A)
        seen.append(store.state())
        assert store.state() == seen[-1]  # reading changes nothing
        self.write(store, B)
        seen.append(store.state())
        store.replace_outputs(A, [], dropped=["sounds"])
        seen.append(store.state())
        store.delete_video(A)
        seen.append(store.state())
        assert len(set(seen)) == len(seen)

    def test_a_write_cut_short_or_forgotten_is_written_again_once(self, store: Store) -> None:
        self.write(store, A)
        counts = dict(store.table_counts())
        self.cut_short(store, A)
        self.write(store, A)
        assert dict(store.table_counts()) == counts
        store.delete_video(A)
        assert all(n == 0 for n in store.table_counts().values())
        self.write(store, A)
        assert dict(store.table_counts()) == counts

    def test_a_signal_no_table_stores_is_refused_by_name(self, store: Store) -> None:
        class Odd(ValueSignal):
            pass

        class Stranger:
            span = TimeSpan(0, 1)

        store.write_video(VideoRow(A), [ExtractorOutput("x", 1, [Odd(TimeSpan(0, 1), "k", "v")])])
        assert len(store.rows_of(SignalRow, A)) == 1  # a subclass goes to its base's table
        with pytest.raises(TypeError, match="Stranger"):
            store.write_video(VideoRow(B), [ExtractorOutput("x", 1, [Stranger()])])  # type: ignore[list-item]

    def test_bad_ids_and_kinds_never_reach_a_query(self, store: Store) -> None:
        with pytest.raises(ValueError, match="not a video id"):
            store.write_video(VideoRow("a' OR '1'='1"), [])
        with pytest.raises(ValueError, match="not a video id"):
            store.rows_of(MomentRow, "x")
        with pytest.raises(ValueError, match="not a kind"):
            store.search_text_vectors(_unit(1), kinds=["e5' OR 1=1 --"])
        with pytest.raises(ValueError, match="not a language"):
            store.speaking("en'--")

    def test_only_one_writer_at_a_time(self, store: Store, root: Path) -> None:
        other = self.open(root, create=False)
        try:
            locked = pytest.raises(LibraryLockedError, match="another process")
            with store.writing(), locked, other.writing():
                pass
            with other.writing():  # free again once the first let go
                pass
        finally:
            other.close()

    # -- finding videos ---------------------------------------------------------------

    def test_videos_by_path_id_and_prefix(self, store: Store) -> None:
        self.write(store, B, "/v/2.mp4")
        self.write(store, A, "/v/1.mp4")
        self.write(store, C, "/v/3.mp4")
        assert [v.path for v in store.videos()] == ["/v/1.mp4", "/v/2.mp4", "/v/3.mp4"]
        found = store.find_by_path("/v/2.mp4")
        assert found is not None and found.video_id == B
        assert store.find_by_path("/v/none.mp4") is None
        assert [v.video_id for v in store.find_by_id_prefix("bbbbbb")] == [B]
        assert {v.video_id for v in store.find_by_id_prefix("aaaaaa")} == {A}
        assert store.find_by_id_prefix("ab") == []  # under six characters
        assert store.find_by_id_prefix("zzzzzz") == []
        store.set_path(A, "/moved/1.mp4")
        assert store.stored_paths()[A] == "/moved/1.mp4"
        moved = store.find_by_path("/moved/1.mp4")
        assert moved is not None and moved.video_id == A

    def test_forgetting_a_video_takes_its_rows_and_ledger_entries(self, store: Store) -> None:
        self.write(store, A)
        self.write(store, B)
        store.ledger.set("/v/a.mp4", FileStatus.INDEXED, video_id=A)
        store.delete_video(A)
        assert store.get_video(A) is None and store.video_ids() == {B}
        assert all(store.rows_of(t, A) == [] for t in ROW_TYPES)
        assert store.ledger.paths_of(A) == []
        assert all(store.rows_of(t, B) for t in ROW_TYPES)

    def test_half_written_videos_are_not_seen_and_can_be_cleared(self, store: Store) -> None:
        self.write(store, A)
        self.write(store, B, words="harbour lights")
        self.cut_short(store, A)
        assert store.video_ids() == {B} and store.orphan_video_ids() == {A}
        assert {h.video_id for h in store.search_text("harbour")} == {B}
        assert {h.video_id for h in store.search_text_vectors(_unit(1), 10)} == {B}
        places, _ = store.embedding_matrix("av_video", "av.pt")
        assert {p.video_id for p in places} == {B}
        assert store.delete_orphans() == 1
        assert store.orphan_video_ids() == set()
        assert all(store.rows_of(t, A) == [] for t in ROW_TYPES)

    # -- searching --------------------------------------------------------------------

    def test_full_text_search_and_its_filters(self, store: Store) -> None:
        self.write(store, A, words="harbour ferry at dawn")
        self.write(store, B, words="ferry timetable")
        any_word = store.search_text("harbour ferry")
        assert [h.video_id for h in any_word] == [A, B]  # more words matched ranks first
        assert any_word[0].bm25 >= any_word[1].bm25 > 0
        assert (any_word[0].span, any_word[0].modality) == (TimeSpan(0, 2), "speech")
        assert [h.video_id for h in store.search_text("harbour ferry", all_words=True)] == [A]
        assert [h.video_id for h in store.search_text("ferry", video_ids=[B])] == [B]
        assert store.search_text("ferry", modalities=["audio"]) == []
        assert len(store.search_text("ferry", modalities=["speech"])) == 2
        german = store.search_text("morgen ferry", language="de")
        assert {(h.video_id, h.text) for h in german} == {(A, "guten morgen"), (B, "guten morgen")}
        assert store.search_text("   ") == []
        assert len(store.search_text("ferry", limit=1)) == 1

    def test_nearest_text_vectors_and_their_filters(self, store: Store) -> None:
        self.write(store, A)
        self.write(store, B)
        target = store.rows_of(TextVectorRow, B)[0]
        hits = store.search_text_vectors(np.asarray(target.vector, np.float32), 10)
        assert [h.video_id for h in hits] == [B, A]
        assert hits[0].distance == pytest.approx(0.0, abs=1e-5)
        assert hits[0].distance < hits[1].distance
        assert (hits[0].kind, hits[0].model, hits[0].text, hits[0].span) == (
            "e5_speech",
            "e5",
            "harbour ferry at dawn",
            TimeSpan(0, 2),
        )
        query = np.asarray(target.vector, np.float32)
        assert [h.video_id for h in store.search_text_vectors(query, video_ids=[A])] == [A]
        assert store.search_text_vectors(query, kinds=["e5_text"]) == []
        assert [h.video_id for h in store.search_text_vectors(query, max_distance=0.01)] == [B]
        assert all(h.background is None for h in hits)

    def test_vector_hits_say_how_their_text_scores_for_background_queries(
        self, store: Store
    ) -> None:
        self.write(store, A)
        self.write(store, B)
        rng = np.random.default_rng(0)
        background = rng.normal(size=(5, len(_unit(1)))).astype(np.float32)
        background /= np.linalg.norm(background, axis=1, keepdims=True)
        rows = {r.video_id: np.asarray(r.vector) for r in store.rows_of(TextVectorRow, A)}
        rows |= {r.video_id: np.asarray(r.vector) for r in store.rows_of(TextVectorRow, B)}
        for hit in store.search_text_vectors(_unit(1), 10, background=background):
            unit = rows[hit.video_id] / np.linalg.norm(rows[hit.video_id])
            similarity = background @ unit
            assert hit.background == pytest.approx((similarity.mean(), similarity.std()), abs=1e-5)

    def test_embedding_matrix_lines_up_with_its_places(self, store: Store) -> None:
        self.write(store, A)
        self.write(store, B)
        places, matrix = store.embedding_matrix("av_video", "av.pt")
        assert matrix.shape == (2, 8) and matrix.dtype == np.float32
        for place, row in zip(places, matrix, strict=True):
            (stored,) = store.rows_of(EmbeddingRow, place.video_id)
            assert place.span == stored.span
            np.testing.assert_allclose(row, stored.vector)
        only_b, _ = store.embedding_matrix("av_video", "av.pt", [B])
        assert [p.video_id for p in only_b] == [B]
        nothing, empty = store.embedding_matrix("av_video", "other-model")
        assert nothing == [] and empty.size == 0

    def test_whole_library_reads_of_one_kind(self, store: Store) -> None:
        self.write(store, A)
        self.write(store, B, words="ferry timetable")
        self.write(store, C)
        self.cut_short(store, C)
        places, matrix = store.text_vector_matrix()
        assert sorted(p.video_id for p in places) == [A, B] and matrix.shape == (2, 384)
        assert store.text_vector_matrix(kinds=["e5_text"])[0] == []
        assert [p.video_id for p in store.text_vector_matrix(video_ids=[B])[0]] == [B]
        speech = store.moments_of(["speech"])
        assert [(m.video_id, m.text) for m in speech] == [
            (A, "harbour ferry at dawn"),
            (A, "guten morgen"),
            (B, "ferry timetable"),
            (B, "guten morgen"),
        ]
        assert {m.modality for m in store.moments_of(["speech", "audio"], [B])} == {
            "speech",
            "audio",
        }
        digests = store.signals_of_kind("md5")
        assert [(r.video_id, r.value) for r in digests] == [(A, A[:32]), (B, B[:32])]
        assert store.signals_of_kind("md5", [B])[0].video_id == B
        assert store.signals_of_kind("sha1") == []

    def test_which_videos_speak_a_language(self, store: Store) -> None:
        self.write(store, A)
        store.write_video(VideoRow(B), _outputs(B)[:1])
        assert store.speaking("de") == {A}
        assert store.speaking("fr") == set()

    def test_indexes_cover_rows_written_after_them(self, store: Store) -> None:
        self.write(store, A)
        store.build_indexes(vector_index_min_rows=1)
        self.write(store, B, words="lighthouse keeper")
        assert [h.video_id for h in store.search_text("lighthouse")] == [B]
        target = store.rows_of(TextVectorRow, B)[0]
        assert store.search_text_vectors(np.asarray(target.vector, np.float32), 1)[0].video_id == B
        # Indexed, the vectors are read from the table for the background statistics.
        unit = np.asarray(target.vector, np.float32) / np.linalg.norm(target.vector)
        [hit] = store.search_text_vectors(unit, 1, background=unit[None, :])
        assert hit.background == pytest.approx((1.0, 0.0), abs=1e-5)
        store.cleanup_versions(0)
        assert [h.video_id for h in store.search_text("lighthouse")] == [B]
        assert store.version_count() <= 2 * len(store.table_counts())

    # -- the shelf --------------------------------------------------------------------

    def test_the_shelf_lists_what_is_stored_sorted_and_filtered(self, store: Store) -> None:
        pictures = {"width_px": 64, "height_px": 36}
        # The files' times as the ledger holds them when a video is written (local noon).
        may = int(datetime(2024, 5, 10, 12).timestamp() * 1e9)
        january = int(datetime(2023, 1, 2, 12).timestamp() * 1e9)
        for video_id, path, mtime_ns in (
            (A, "/v/holiday/b.mp4", may),
            (C, "/v/work/C.mp4", january),
        ):
            store.ledger.set(path, FileStatus.PENDING, video_id=video_id, mtime_ns=mtime_ns)
        store.write_video(VideoRow(A, "/v/holiday/b.mp4", duration_s=30.0, **pictures), _outputs(A))
        store.write_video(VideoRow(B, "/v/holiday/sub/a.mp4", duration_s=10.0), [])
        store.write_video(VideoRow(C, "/v/work/C.mp4", duration_s=20.0, **pictures), _outputs(C))
        shelf = store.shelf()
        rows, total = shelf.page("name", descending=False)
        assert total == 3 and [r.name for r in rows] == ["a.mp4", "b.mp4", "C.mp4"]
        assert [r.video_id for r in shelf.page("duration")[0]] == [A, C, B]  # longest first
        assert [r.video_id for r in shelf.page("added", descending=False)[0]] == [A, B, C]
        first = rows[1]
        assert (first.path, first.duration_s, first.pictures) == ("/v/holiday/b.mp4", 30.0, True)
        assert first.kinds == ("speech",)  # what was found: speech, and a sound of no kind
        assert rows[0].kinds == () and not rows[0].pictures
        under = shelf.page("name", descending=False, folder="/v/holiday")
        assert under[1] == 2 and {r.video_id for r in under[0]} == {A, B}  # at any depth
        assert shelf.page(folder="/v/holi")[1] == 0  # a folder is a whole name
        assert {r.video_id for r in shelf.page(kind="speech")[0]} == {A, C}
        assert [r.name for r in shelf.page("name", False, offset=1, limit=1)[0]] == ["b.mp4"]
        assert shelf.folders() == [("/v/holiday", 1), ("/v/holiday/sub", 1), ("/v/work", 1)]
        assert shelf.months() == [("2024-05", 1), ("2023-01", 1)]
        assert [r.video_id for r in shelf.page(month="2023-01")[0]] == [C]
        assert [r.video_id for r in shelf.page("date")[0]] == [A, C, B]  # no time: last
        store.set_path(C, "/v/moved/c2.mp4")
        assert [r.video_id for r in shelf.page(folder="/v/moved")[0]] == [C]
        store.delete_video(B)
        assert shelf.page()[1] == 2
        store.moderation.keep(A, "nudity", "block", "k", {})  # held back
        assert [r.video_id for r in shelf.page()[0]] == [C]
