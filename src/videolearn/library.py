"""A library: its settings, its store, the extractors it runs, and an index run over it.

`open_library` is where every application starts: the applications (`apps/`) take a
`Library` and answer from its store; the adapters (CLI, HTTP API, web UI) call only the
applications. Indexing itself is the pipeline's (`pipeline/`): the library chooses the
extractors and the hooks, and hands both to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from videolearn.config import Settings, load_settings
from videolearn.errors import ExtractorError, VideoNotFoundError
from videolearn.extractors.base import Extractor
from videolearn.extractors.registry import available_extractors, extractor_problems, order_by_needs
from videolearn.ingest.scan import absolute_path
from videolearn.pipeline import (
    IndexProgress,
    IndexResult,
    IndexStatus,
    available_hooks,
    open_pipeline,
)
from videolearn.plugins import PluginProblem
from videolearn.store import Store, open_store
from videolearn.store.tables import VideoRow
from videolearn.types import Closing

_VIDEO_ID = re.compile(r"[0-9a-f]{64}")


class Library(Closing):
    """An opened library. Use `open_library`; close it (or use `with`) when done."""

    def __init__(self, settings: Settings, create: bool) -> None:
        self.settings = settings
        self.store: Store = open_store(settings.library, create=create)
        self._extractors: list[Extractor] | None = None

    def close(self) -> None:
        self.store.close()

    @property
    def extractors(self) -> list[Extractor]:
        """The enabled extractors, constructed once, in dependency order."""
        if self._extractors is None:
            classes = available_extractors()
            wanted = self.settings.extractors
            if wanted is not None:
                unknown = sorted(set(wanted) - set(classes))
                if unknown:
                    raise ExtractorError(
                        f"unknown extractor(s) in settings: {', '.join(unknown)}; "
                        f"available: {', '.join(classes)}"
                    )
                classes = {n: c for n, c in classes.items() if n in wanted}
                order_by_needs(list(classes.values()))  # raises when a need is left out
            else:
                classes = {n: c for n, c in classes.items() if c.configured(self.settings)}
            self._extractors = [cls(self.settings) for cls in classes.values()]
        return self._extractors

    def skipped_plugins(self) -> list[PluginProblem]:
        """Extractor and hook plug-ins that could not be loaded, and why."""
        return [*extractor_problems(), *available_hooks()[1]]

    def index(
        self, paths: Iterable[Path | str], progress: IndexProgress | None = None
    ) -> list[IndexResult]:
        """Add or refresh the media files under `paths` (see `pipeline.local`). Resumable;
        one writer at a time. A file that cannot be indexed gets a reason in the ledger
        and the run goes on.

        Raises:
            LibraryLockedError: another process is writing to the library.
        """
        hooks, _ = available_hooks()
        pipeline = open_pipeline(self.store, self.settings, self.extractors, hooks)
        return pipeline.index(paths, progress)

    def resolve(self, video: str) -> VideoRow:
        """The video row for a path or a video id (or a unique prefix of one of 6+ chars).

        Raises:
            VideoNotFoundError: nothing, or more than one video, matches.
        """
        where = absolute_path(video)
        if _VIDEO_ID.fullmatch(video.lower()) and not where.exists():
            # A whole id is looked up by its key (the path and a prefix are each a scan).
            row = self.store.get_video(video.lower())
            if row is not None:
                return row
        row = self.store.find_by_path(str(where))
        if row is not None:
            return row
        matches = self.store.find_by_id_prefix(video.lower())
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise VideoNotFoundError(
                f"{video!r} matches {len(matches)} videos; give more of the id"
            )
        raise VideoNotFoundError(f"no indexed video has the path or id {video!r}")


def open_library(
    library: Path | str | None = None, create: bool = False, settings: Settings | None = None
) -> Library:
    """Open a library directory (`$VIDEOLEARN_LIBRARY` or `./videolearn-library` by default).

    Args:
        library: the directory; ignored when `settings` is given.
        create: make the library when it does not exist.
        settings: settings to use instead of loading them.

    Raises:
        LibraryNotFoundError: not a library and `create` is False.
    """
    return Library(settings or load_settings(library), create=create)


__all__: Sequence[str] = ["IndexResult", "IndexStatus", "Library", "open_library"]
