"""Plug-ins: objects other distributions register under an entry-point group.

videolearn finds extractors (`videolearn.extractors`) and hooks that run after a video is
stored (`videolearn.hooks`) this way. A plug-in that cannot be loaded (its module fails to
import, it is not what the group expects, its name is taken) is skipped and reported, so
that one broken package costs its own feature, not the library: `status` and `doctor` list
what was skipped and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points


@dataclass(frozen=True)
class PluginProblem:
    """A plug-in that was skipped, and why."""

    group: str
    name: str
    reason: str

    def __str__(self) -> str:
        return f"plug-in {self.name!r} ({self.group}) was skipped: {self.reason}"

    def to_json(self) -> dict[str, str]:
        return {"group": self.group, "name": self.name, "reason": self.reason}


def load_plugins(
    group: str, check: Callable[[object], str | None]
) -> tuple[list[tuple[str, object]], list[PluginProblem]]:
    """Every entry point of `group`, by name order, loaded: (name, object) pairs, and the
    problems of those that could not be loaded or that `check` refused (it returns why,
    or None to accept)."""
    loaded: list[tuple[str, object]] = []
    problems: list[PluginProblem] = []
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            obj = ep.load()
        except Exception as err:  # any failure in someone else's module is theirs
            problems.append(
                PluginProblem(
                    group, ep.name, f"{ep.value} failed to load: {type(err).__name__}: {err}"
                )
            )
            continue
        why = check(obj)
        if why is not None:
            problems.append(PluginProblem(group, ep.name, why))
            continue
        loaded.append((ep.name, obj))
    return loaded, problems
