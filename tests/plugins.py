"""Plug-ins as a user installs them: a real distribution on sys.path with entry points."""

from __future__ import annotations

from pathlib import Path

import pytest


def install_plugin(  # noqa: PLR0917  a plug-in's parts
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    class_name: str,
    source: str,
    group: str = "videolearn.extractors",
) -> None:
    """A real distribution on sys.path whose module `name` declares an entry point."""
    (folder / f"{name}.py").write_text(source)
    dist = folder / f"{name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{group}]\n{name} = {name}:{class_name}\n")
    monkeypatch.syspath_prepend(str(folder))
