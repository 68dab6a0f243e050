"""Runs of sightings: something seen in consecutive sampled frames is one moment.

Extractors that look at frames every `step_s` (on-screen text, nudity) hand each look's
findings to a `RunTracker`: a finding that matches an open run (by the extractor's own
`same`) continues it, the others open runs, and runs not found again end. A run keeps its
most confident finding and ends one step after it was last seen, never past the video.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from videolearn.extractors.base import Moment
from videolearn.types import TimeSpan

T = TypeVar("T")


@dataclass(eq=False)  # compared by identity
class _Run(Generic[T]):
    best: T
    latest: T
    first_s: float
    last_s: float


@dataclass
class RunTracker(Generic[T]):
    """Findings at sampled times in, a moment per run out.

    Args:
        step_s: time between sampled frames.
        same: whether a finding continues a run (given the run's latest finding).
        confidence: how sure a finding is; a run keeps its most confident one.
        moment: the moment of a run's best finding over its span.
    """

    step_s: float
    same: Callable[[T, T], bool]
    confidence: Callable[[T], float]
    moment: Callable[[T, TimeSpan], Moment]
    open: list[_Run[T]] = field(default_factory=list)
    done: list[Moment] = field(default_factory=list)

    def reading(self, time_s: float, found: Sequence[T]) -> None:
        """What was found at `time_s`: each finding continues an open run or opens one;
        open runs not found again end."""
        kept: list[_Run[T]] = []
        for item in found:
            match = next(
                (r for r in self.open if r not in kept and self.same(r.latest, item)), None
            )
            if match is None:
                kept.append(_Run(item, item, time_s, time_s))
                continue
            match.latest, match.last_s = item, time_s
            if self.confidence(item) > self.confidence(match.best):
                match.best = item
            kept.append(match)
        for run in self.open:
            if run not in kept:
                self._close(run, end_s=time_s)
        self.open = kept

    def unchanged(self, time_s: float) -> None:
        """A frame like the last one looked at: every open run goes on."""
        for run in self.open:
            run.last_s = time_s

    def finish(self, end_s: float) -> list[Moment]:
        """Every run ended at `end_s` at the latest; the moments in the order they ended."""
        for run in self.open:
            self._close(run, end_s)
        self.open = []
        return self.done

    def _close(self, run: _Run[T], end_s: float) -> None:
        end_s = max(run.first_s, min(end_s, run.last_s + self.step_s))
        span = TimeSpan(round(run.first_s, 3), round(end_s, 3))
        self.done.append(self.moment(run.best, span))
