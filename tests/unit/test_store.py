"""The embedded store passes the store contract; `open_store` takes a path or a URI."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.store_contract import A, StoreContract
from videolearn.errors import LibraryNotFoundError
from videolearn.store import Store, open_store
from videolearn.store.database import DATABASE_FILE
from videolearn.store.embedded import LibraryStore
from videolearn.store.tables import MomentRow, VideoRow


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
