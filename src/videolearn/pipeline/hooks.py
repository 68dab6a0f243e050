"""What runs after the pipeline has stored a video: hooks.

Work that follows a stored video (matching against hash banks now; audio fingerprints,
moderation and theme assignment later) subscribes here and never lives in the scheduler.
A hook is a class registered under the entry-point group `videolearn.hooks` (videolearn's
own are registered in its `pyproject.toml` like a plug-in's), built once per index run
from the run's store and settings. It is told of each video as soon as its rows are
stored (`video_stored`, with every extractor's signals, so that it needs no read-back),
and once when the run is over (`run_finished`: catch up on videos that a change since
their own run left behind, such as banks that grew).

A hook that raises on a video fails that file with the hook's name and the reason; its
rows stay stored, and the next run that finds the hook behind catches up. A hook plug-in
that cannot be loaded is skipped and reported, like an extractor plug-in.

Work in `run_finished` can take long (the first search for copies of a large library
takes hours): a hook says how far it has got with `after_run_progress("finding copies",
done, total)`, from `run_finished` or anything it calls, and the run's progress shows it
(`IndexProgress.after_run`); outside `run_finished` the call does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from videolearn.config import Settings
from videolearn.extractors.base import Signal
from videolearn.plugins import PluginProblem, load_plugins

if TYPE_CHECKING:
    from videolearn.store import Store

HOOK_GROUP = "videolearn.hooks"


@dataclass(frozen=True)
class StoredVideo:
    """A video the pipeline has just stored: its id, the path it was read from, its MD5,
    and what every extractor (or, `partial`, every extractor run again) found in it, by
    extractor name."""

    video_id: str
    path: str
    md5: str
    signals: Mapping[str, Sequence[Signal]]
    # Only the extractors in `signals` ran again (their version changed); the others'
    # rows are stored as they were.
    partial: bool = False


class IndexHook(Protocol):
    """Work that follows stored videos. Built as `Hook(store, settings)` for each run."""

    name: str

    def video_stored(self, video: StoredVideo) -> None:
        """A video's rows are stored; its ledger entry is not yet marked indexed."""

    def run_finished(self) -> None:
        """The run has stored its last video (under the run's write lock)."""


HookFactory = Callable[["Store", Settings], IndexHook]

# What a hook's work after the run reports: what it does, units done, units in all.
AfterRunProgress = Callable[[str, int, int], None]
_after_run: ContextVar[AfterRunProgress | None] = ContextVar("after_run", default=None)


def after_run_progress(what: str, done: int, total: int) -> None:
    """Say how far a hook's work after the run has got ("finding copies", 6,000 of
    100,000 videos); nothing outside a run's `run_finished`."""
    report = _after_run.get()
    if report is not None:
        report(what, done, total)


@contextmanager
def reporting_after_run(report: AfterRunProgress | None) -> Iterator[None]:
    """Within the `with`, `after_run_progress` goes to `report`."""
    token = _after_run.set(report)
    try:
        yield
    finally:
        _after_run.reset(token)


def _check(obj: object) -> str | None:
    if not callable(obj):
        return f"{obj!r} cannot be called to build a hook"
    if not isinstance(getattr(obj, "name", None), str):
        return f"{obj!r} has no name"
    return None


def available_hooks() -> tuple[list[HookFactory], list[PluginProblem]]:
    """The hooks registered under `videolearn.hooks`, by name, and those skipped."""
    loaded, problems = load_plugins(HOOK_GROUP, _check)
    return [factory for _, factory in loaded], problems  # type: ignore[misc]
