"""What every store offers: the `Store` protocol the pipeline and the apps speak to, and
what a writer hands it.

`store.embedded.LibraryStore` (LanceDB tables in a directory, beside the library's SQLite
file) is the one implementation today; `tests/store_contract.py` is the suite a second one
(a remote LanceDB, say) would pass. Writing a video again replaces its rows with the same
rows (stable keys), so indexing twice changes nothing and a killed run can simply run
again; a video's derived rows are written before its `VideoRow`, and readers see only
videos that have one, so they never see half a video.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, TypeVar

import numpy as np

from videolearn.extractors.base import Signal
from videolearn.store.banks import BankStore
from videolearn.store.decisions import DecisionStore
from videolearn.store.ledger import Ledger
from videolearn.store.moderation import ModerationStore
from videolearn.store.shelf import ShelfStore
from videolearn.store.tables import (
    MomentRow,
    SignalRow,
    SpanRow,
    TextHit,
    VectorHit,
    VectorPlace,
    VideoRow,
)
from videolearn.store.themes import ThemeStore
from videolearn.store.tokens import TokenStore
from videolearn.store.verdicts import VerdictStore

R = TypeVar("R", bound=SpanRow)


@dataclass(frozen=True)
class ExtractorOutput:
    """What one extractor produced for a video, ready to store."""

    name: str
    version: int
    signals: Sequence[Signal]
    revision: str = ""


def version_tag(version: int, revision: str = "") -> int | str:
    """How a video row records which extractor made its rows: the version, and with it the
    revision (the weights it loaded) when the extractor has one."""
    return f"{version}:{revision}" if revision else version


class Store(Protocol):
    """A library's videos and what was found in them, its ledger, hash banks and API
    tokens."""

    @property
    def ledger(self) -> Ledger: ...

    @property
    def banks(self) -> BankStore: ...

    @property
    def tokens(self) -> TokenStore: ...

    @property
    def decisions(self) -> DecisionStore: ...

    @property
    def themes(self) -> ThemeStore: ...

    @property
    def verdicts(self) -> VerdictStore: ...

    @property
    def moderation(self) -> ModerationStore: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    # -- writing ------------------------------------------------------------------------

    def writing(self) -> AbstractContextManager[None]:
        """Hold the library's write lock; raises LibraryLockedError when another process
        holds it."""
        ...

    def writer_busy(self) -> bool:
        """Whether another process holds the write lock now (a run going on)."""
        ...

    def unindexed_rows(self) -> Mapping[str, int]:
        """Rows of each table that its indexes do not cover yet (written since the last
        `maintain`), tables with none left out."""
        ...

    def maintain(
        self,
        vector_index_min_rows: int,
        keep_versions_s: float,
        *,
        run_over: bool = True,
        drop_every_s: float | None = None,
    ) -> None:
        """`build_indexes`, then `cleanup_versions`: what keeps writes and reads of a
        growing library at a constant cost. Run every few hundred videos written; within
        a run (`run_over` False) versions older than `keep_versions_s` are dropped once
        per `drop_every_s` (`keep_versions_s` when None)."""
        ...

    def write_video(self, video: VideoRow, outputs: Sequence[ExtractorOutput]) -> None:
        """Store a video and everything extracted from it, replacing what was there."""
        ...

    def replace_outputs(
        self, video_id: str, outputs: Sequence[ExtractorOutput], dropped: Collection[str] = ()
    ) -> None:
        """Replace the rows of some extractors of a stored video (those of `outputs`;
        those of `dropped` deleted), keeping the rest."""
        ...

    def set_path(self, video_id: str, path: str) -> None: ...

    def delete_video(self, video_id: str) -> None:
        """Remove a video, every row derived from it, its ledger entries and bank matches."""
        ...

    def delete_orphans(self) -> int:
        """Delete derived rows whose video has no row; returns how many videos."""
        ...

    def build_indexes(self, vector_index_min_rows: int) -> None:
        """Create the search indexes a table is ready for (full text, scalar filters, and
        the vector index once there are `vector_index_min_rows` text vectors)."""
        ...

    def cleanup_versions(self, older_than_s: float, *, drop_versions: bool = True) -> None:
        """Fold new rows into the indexes and (with `drop_versions`) drop data versions
        older than `older_than_s`."""
        ...

    # -- reading ------------------------------------------------------------------------

    def get_video(self, video_id: str) -> VideoRow | None: ...

    def videos(self) -> list[VideoRow]:
        """Every stored video, by path."""
        ...

    def videos_of(self, video_ids: Sequence[str]) -> list[VideoRow]:
        """The stored videos of `video_ids`, in their order (those not stored left out)."""
        ...

    def video_ids(self) -> set[str]: ...

    def find_by_path(self, path: str) -> VideoRow | None: ...

    def find_by_id_prefix(self, prefix: str) -> list[VideoRow]: ...

    def stored_paths(self) -> Mapping[str, str]:
        """Every stored video's path, by id."""
        ...

    def shown_paths(self) -> Mapping[str, str]:
        """`stored_paths` without the videos a `block` verdict holds back."""
        ...

    def shelf(self) -> ShelfStore:
        """What the library view lists of each video (filled from the tables once)."""
        ...

    def rows_of(self, row_type: type[R], video_id: str) -> list[R]:
        """A video's rows of one table (`MomentRow`, `SignalRow`, ...), by start, extractor
        and key."""
        ...

    def orphan_video_ids(self) -> set[str]:
        """Videos that have derived rows but no video row (a write cut short)."""
        ...

    def table_counts(self) -> Mapping[str, int]: ...

    def version_count(self) -> int:
        """Data versions kept, all tables together."""
        ...

    def state(self) -> str:
        """The tables' state as one string: it changes with every write (each table's
        latest version), and only then. What is derived from the whole library is kept
        under it."""
        ...

    def search_text(  # noqa: PLR0917  a query and its filters
        self,
        query: str,
        limit: int = 20,
        modalities: Sequence[str] = (),
        video_ids: Sequence[str] = (),
        language: str = "",
        all_words: bool = False,
        *,
        stored_only: bool = True,
    ) -> list[TextHit]:
        """Moments whose text matches `query`, best first."""
        ...

    def search_text_vectors(
        self,
        vector: np.ndarray,
        limit: int = 20,
        kinds: Sequence[str] = (),
        video_ids: Sequence[str] = (),
        max_distance: float | None = None,
        *,
        stored_only: bool = True,
        nprobes: int | None = None,
        background: np.ndarray | None = None,
    ) -> list[VectorHit]:
        """Text vectors nearest `vector` by cosine distance, best first; with `background`
        (unit query vectors, one per row), each hit's `background` statistics."""
        ...

    def embedding_matrix(
        self, kind: str, model: str, video_ids: Sequence[str] = ()
    ) -> tuple[list[VectorPlace], np.ndarray]:
        """The stored `kind` vectors of `model`, one matrix row each, and where each row
        comes from."""
        ...

    def text_vector_matrix(
        self, kinds: Sequence[str] = (), video_ids: Sequence[str] = ()
    ) -> tuple[list[VectorPlace], np.ndarray]:
        """The stored text vectors (of `kinds`, of `video_ids`), as `embedding_matrix`."""
        ...

    def moments_of(
        self, modalities: Sequence[str], video_ids: Sequence[str] = ()
    ) -> list[MomentRow]:
        """Every stored video's moments of `modalities` (or those of `video_ids`)."""
        ...

    def signals_of_kind(self, kind: str, video_ids: Sequence[str] = ()) -> list[SignalRow]:
        """Every stored video's values of one kind (fingerprints, digests), or those of
        `video_ids`, by video and start."""
        ...

    def speaking(self, language: str) -> set[str]:
        """The videos with speech in `language`."""
        ...
