"""The embedded store passes the store contract; `open_store` takes a path or a URI."""

from __future__ import annotations

import dataclasses
import math
import sqlite3
from pathlib import Path

import pytest

from tests.store_contract import A, StoreContract, _outputs
from videolearn.errors import LibraryNotFoundError
from videolearn.store import Store, open_store
from videolearn.store.database import DATABASE_FILE
from videolearn.store.embedded import LibraryStore, segments_to_merge
from videolearn.store.tables import MomentRow, TextVectorRow, VideoRow


class TestEmbeddedStore(StoreContract):
    def open(self, root: Path, create: bool) -> Store:
        return open_store(root, create=create)

    def cut_short(self, store: Store, video_id: str) -> None:
        assert isinstance(store, LibraryStore)
        store._tables["videos"].delete(f"video_id = '{video_id}'")


def test_a_library_written_before_the_record_of_written_videos_is_written_once(
    tmp_path: Path,
) -> None:
    """A library from before migration 11 holds rows the record does not know of: the
    record is filled from the tables before the first write, so nothing is doubled."""
    root = tmp_path / "library"
    with open_store(root, create=True) as store:
        TestEmbeddedStore().write(store, A)
        counts = dict(store.table_counts())
    with sqlite3.connect(root / DATABASE_FILE) as db:  # as migration 11 leaves such a library
        db.execute("DELETE FROM written_videos")
        db.execute("DELETE FROM written_videos_filled")
    with open_store(root) as store:
        TestEmbeddedStore().write(store, A)
        assert dict(store.table_counts()) == counts


def test_a_library_written_before_the_shelf_is_put_on_it_once(tmp_path: Path) -> None:
    """A library from before migration 14 has no shelf: the first look at it fills it
    from the tables, with what each video holds and its file's time in the ledger."""
    root = tmp_path / "library"
    with open_store(root, create=True) as store:
        TestEmbeddedStore().write(store, A, "/v/harbour.mp4")
    with sqlite3.connect(root / DATABASE_FILE) as db:  # as migration 14 leaves such a library
        db.execute("DELETE FROM shelf")
        db.execute("DELETE FROM shelf_filled")
        db.execute(
            "INSERT INTO files (path, video_id, size_bytes, mtime_ns, status, updated_at) "
            "VALUES ('/v/harbour.mp4', ?, 1, 1700000000000000000, 'indexed', 0)",
            (A,),
        )
    with open_store(root) as store:
        [row], total = store.shelf().page()
        assert total == 1 and store.shelf().complete()
    assert (row.video_id, row.path, row.kinds, row.modified) == (
        A,
        "/v/harbour.mp4",
        ("speech",),
        1_700_000_000.0,
    )


def test_a_file_uri_opens_the_same_library(tmp_path: Path) -> None:
    root = tmp_path / "my library"
    with open_store(root, create=True) as store:
        store.write_video(VideoRow(A, "/v/a.mp4"), [])
    with open_store(root.as_uri()) as by_uri, open_store(str(root)) as by_text:
        assert by_uri.video_ids() == by_text.video_ids() == {A}
        assert by_uri.rows_of(MomentRow, A) == []


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("s3://bucket/library", "cannot open a s3:// library"),
        ("db://videos", "cannot open a db:// library"),
        ("file://otherhost/library", "must be on this machine"),
    ],
)
def test_a_store_this_version_cannot_open_is_named(uri: str, reason: str) -> None:
    with pytest.raises(LibraryNotFoundError, match=reason) as caught:
        open_store(uri)
    assert uri in str(caught.value)


def test_a_non_empty_folder_is_not_taken_for_a_library(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(LibraryNotFoundError, match="not empty"):
        open_store(tmp_path, create=True)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_index_segments_stay_as_few_as_a_binary_counters_ones() -> None:
    """Rows folded into an index at each maintenance: the segments double in size from the
    newest to the oldest, so after n equal folds there are as many as n has ones in
    binary, and no row is rewritten more than log2(n) + 1 times."""
    sizes: list[int] = []
    rewritten = 0
    for n in range(1, 200):
        merged = segments_to_merge(sizes, 10)
        kept = sizes[: len(sizes) - merged]
        folded = 10 + sum(sizes[len(sizes) - merged :])
        rewritten += folded
        sizes = [*kept, folded]
        assert len(sizes) == bin(n).count("1"), (n, sizes)
        assert sum(sizes) == 10 * n
        assert rewritten <= 10 * n * (math.log2(n) + 1)
    assert segments_to_merge([], 5) == 0
    assert segments_to_merge([1_000, 10], 5) == 0  # a fold smaller than the newest: apart
    assert segments_to_merge([1_000, 10], 2_000) == 2  # the whole index is folded anew


def test_rows_written_between_many_maintenances_are_all_found(tmp_path: Path) -> None:
    """Each maintenance folds the rows written since into the indexes as a segment of
    their own or with the newest ones; every row stays findable by text, by key, by
    video and by vector, and the segments stay few."""
    videos = [f"{n:02x}" * 32 for n in range(1, 21)]
    with open_store(tmp_path / "library", create=True) as store:
        assert isinstance(store, LibraryStore)
        for n, video in enumerate(videos):
            TestEmbeddedStore().write(store, video, words=f"harbour word{n} at dawn")
            store.maintain(vector_index_min_rows=1, keep_versions_s=0)
        for n, video in enumerate(videos):
            assert [h.video_id for h in store.search_text(f"word{n}")] == [video]
            assert len(store.rows_of(MomentRow, video)) == 3
        vector = store.rows_of(TextVectorRow, videos[3])[0].vector
        assert store.search_text_vectors(vector, 1)[0].video_id == videos[3]
        for table in ("moments", "text_vectors"):
            for index in store._dataset(table).describe_indices():
                assert len(index.segments) <= 3, (table, index.name, len(index.segments))


def test_a_stored_video_written_again_is_replaced_in_one_commit_a_table(
    tmp_path: Path,
) -> None:
    """A stored video written again gets one new version of each table: the version
    before holds its old rows and the new one its new rows (never neither, never both);
    the other video's rows stay, and the search finds the new words through the indexes
    that covered the old. (An upsert by key, then a delete of the rows it left, made two.)"""
    a, b = "a1" * 32, "b2" * 32
    with open_store(tmp_path / "library", create=True) as store:
        assert isinstance(store, LibraryStore)
        contract = TestEmbeddedStore()
        contract.write(store, a, words="lighthouse keeper at noon")
        contract.write(store, b)
        store.maintain(vector_index_min_rows=1, keep_versions_s=0)
        tables = ("videos", "moments", "signals", "thumbnails", "embeddings", "text_vectors")
        before = {name: store._dataset(name).version for name in tables}
        # Every extractor in a new version: every row's key is new.
        outputs = [
            dataclasses.replace(o, version=o.version + 1)
            for o in _outputs(a, words="river barge at dusk")
        ]
        store.write_video(VideoRow(a, "/v/a.mp4"), outputs)
        for name, version in before.items():
            now = store._dataset(name)
            assert now.version == version + 1, name
            old = now.checkout_version(version)
            where = f"video_id = '{a}'"
            assert old.count_rows(where) == now.count_rows(where) > 0, name
            assert now.count_rows(f"video_id = '{b}'") == old.count_rows(f"video_id = '{b}'")
        said = {r.text for r in store.rows_of(MomentRow, a)}
        assert "river barge at dusk" in said and "lighthouse keeper at noon" not in said
        assert [h.video_id for h in store.search_text("barge")] == [a]
        assert store.search_text("lighthouse") == []
        assert len(store.rows_of(MomentRow, b)) == 3


def test_an_older_librarys_unused_key_indexes_are_dropped_by_maintenance(
    tmp_path: Path,
) -> None:
    """Rows were once upserted by `key` through an index on it; nothing reads those
    indexes now, so maintenance drops them rather than folding rows into them."""
    from lancedb.index import BTree

    with open_store(tmp_path / "library", create=True) as store:
        assert isinstance(store, LibraryStore)
        TestEmbeddedStore().write(store, A)
        store._tables["moments"].create_index("key", config=BTree(), name="moments_key")
        store.maintain(vector_index_min_rows=1, keep_versions_s=0)
        names = {i.name for i in store._tables["moments"].list_indices()}
        assert "moments_key" not in names and "moments_video_id" in names


def test_a_title_outlives_writes_and_moves_and_goes_with_the_video(tmp_path: Path) -> None:
    with open_store(tmp_path / "library", create=True) as store:
        assert isinstance(store, LibraryStore)
        contract = TestEmbeddedStore()
        contract.write(store, A, path="/v/harbour.mp4")
        shelf = store.shelf()
        assert shelf.set_title(A, 'Fähre "nach" Straßburg')
        assert not shelf.set_title("b2" * 32, "no such video")
        contract.write(store, A, path="/v/harbour.mp4")  # indexed again
        store.set_path(A, "/w/moved.mp4")
        [row], _ = shelf.page(sort="name")
        assert (row.title, row.shown, row.name) == (
            'Fähre "nach" Straßburg',
            'Fähre "nach" Straßburg',
            "moved.mp4",
        )
        # Words folded as the search folds them; a quote in a query is no FTS syntax.
        for words in (["strassburg"], ["fahre"], ['nach"'], ["fa"]):
            assert [t[0] for t in shelf.titled(words)] == [A], words
        assert shelf.titled(["ferry"]) == [] and shelf.titled([]) == []
        assert shelf.set_title(A, None)
        [row], _ = shelf.page(sort="name")
        assert (row.title, row.shown) == (None, "moved.mp4")
        assert shelf.titled(["fahre"]) == []
        shelf.set_title(A, "Ferry")
        store.delete_video(A)
        assert shelf.titled(["ferry"]) == [] and shelf.title(A) is None


def test_titles_found_among_a_searchs_filtered_videos_beyond_the_first_matches(
    tmp_path: Path,
) -> None:
    with open_store(tmp_path / "library", create=True) as store:
        assert isinstance(store, LibraryStore)
        contract = TestEmbeddedStore()
        ids = [f"{n:02x}" * 32 for n in range(1, 7)]
        shelf = store.shelf()
        for video_id in ids:
            contract.write(store, video_id)
            shelf.set_title(video_id, f"Ferry trip {video_id[:2]}")
        # Six titles hold "ferry": the filter picks the last two, past a limit of two.
        assert len(shelf.titled(["ferry"], limit=2)) == 2
        found = shelf.titled(["ferry"], limit=2, among=ids[4:])
        assert sorted(t[0] for t in found) == ids[4:]
        assert shelf.titled(["ferry"], among=["ff" * 32]) == []


def test_within_a_run_old_versions_are_dropped_once_per_their_own_interval(
    tmp_path: Path,
) -> None:
    """`maintain` within a run drops the versions older than `keep_versions_s` only once
    `drop_every_s` has passed since the last drop; a run's end drops them whatever."""
    with open_store(tmp_path / "library", create=True) as store:
        assert isinstance(store, LibraryStore)
        contract = TestEmbeddedStore()
        contract.write(store, "a1" * 32)
        store.maintain(vector_index_min_rows=1, keep_versions_s=0)  # a run's end
        dropped = store.version_count()
        for n in range(2, 5):
            contract.write(store, f"{n:02x}" * 32)
        store.maintain(1, keep_versions_s=0, run_over=False, drop_every_s=3600)
        kept = store.version_count()
        assert kept > dropped
        store.maintain(1, keep_versions_s=0, run_over=False, drop_every_s=0)
        assert store.version_count() < kept


def test_a_reader_finds_by_vector_what_another_store_wrote_and_compacted(
    tmp_path: Path,
) -> None:
    """A server's store searching an indexed table while an index run in another process
    writes, compacts and drops old versions: the search sees the new rows, and never the
    files the drop deleted (LanceDB's table handles stay on the version they opened)."""
    videos = [f"{n:02x}" * 32 for n in range(1, 13)]
    root = tmp_path / "library"
    contract = TestEmbeddedStore()
    with open_store(root, create=True) as writer, open_store(root) as reader:
        assert isinstance(writer, LibraryStore) and isinstance(reader, LibraryStore)
        for video in videos[:-1]:
            contract.write(writer, video)
        writer.maintain(vector_index_min_rows=1, keep_versions_s=0)
        first = reader.rows_of(TextVectorRow, videos[0])[0].vector
        assert reader.search_text_vectors(first, 1)[0].video_id == videos[0]
        contract.write(writer, videos[-1], words="a lighthouse keeper's log")
        writer.maintain(vector_index_min_rows=1, keep_versions_s=0)
        last = writer.rows_of(TextVectorRow, videos[-1])[0].vector
        assert reader.search_text_vectors(last, 1)[0].video_id == videos[-1]
        assert reader.search_text_vectors(first, 1)[0].video_id == videos[0]
