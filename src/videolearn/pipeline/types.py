"""What an index run reports: a result per file, progress while it runs, and the interface
every engine (this machine's, and later Ray's) implements."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from videolearn.types import shown_path


class IndexStatus(StrEnum):
    """What an index run did with a file."""

    INDEXED = "indexed"  # read and stored
    UNCHANGED = "unchanged"  # already stored as it is (perhaps under another path)
    FAILED = "failed"  # not stored; `reason` says why


@dataclass(frozen=True)
class IndexResult:
    """What happened to one file in an index run."""

    path: str
    video_id: str | None
    status: IndexStatus
    reason: str | None = None
    # A stored video brought up to date: the extractors run again (their version
    # changed), and those whose rows went (no longer enabled). Empty otherwise.
    ran_again: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()

    def to_json(self) -> dict[str, str | list[str] | None]:
        """The `index --json` line."""
        return {
            "path": shown_path(self.path),
            "video_id": self.video_id,
            "status": str(self.status),
            "reason": self.reason,
            "ran_again": list(self.ran_again),
            "dropped": list(self.dropped),
        }

    def note(self) -> str:
        """What the text line says after the path: the reason, or what was brought up to
        date ("ran again: fingerprint")."""
        if self.reason:
            return self.reason
        parts = [f"ran again: {', '.join(self.ran_again)}"] if self.ran_again else []
        parts += [f"dropped: {', '.join(self.dropped)}"] if self.dropped else []
        return "; ".join(parts)


class IndexProgress(Protocol):
    """Receives progress from an index run; every method is optional to act on."""

    def file_started(self, path: Path, number: int, total: int) -> None: ...
    def media_progress(self, reached_s: float, duration_s: float) -> None: ...
    def file_done(self, result: IndexResult) -> None: ...

    # Optional: what the run does after its files (a hook's work, such as finding
    # copies), `done` of `total` units; a progress without it is not told.
    # def after_run(self, what: str, done: int, total: int) -> None: ...


class Silent:
    """Progress that goes nowhere."""

    def file_started(self, path: Path, number: int, total: int) -> None:
        pass

    def media_progress(self, reached_s: float, duration_s: float) -> None:
        pass

    def file_done(self, result: IndexResult) -> None:
        pass


class Pipeline(Protocol):
    """An engine that indexes files into a library."""

    def index(
        self, paths: Iterable[Path | str], progress: IndexProgress | None = None
    ) -> list[IndexResult]: ...
