"""The index pipeline: schedules files, runs the extractors (each model family in a worker
process of its own), writes through the store, then runs the hooks that follow a stored
video (`hooks`). `open_pipeline` builds the engine: `local` is this machine's,
`distributed` extracts on a Ray cluster.

Sits above the store and below the library and the applications: it knows nothing of
what a hook does with a video.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from videolearn.pipeline.hooks import (
    HookFactory,
    IndexHook,
    StoredVideo,
    after_run_progress,
    available_hooks,
)
from videolearn.pipeline.types import IndexProgress, IndexResult, IndexStatus, Pipeline, Silent

if TYPE_CHECKING:
    from videolearn.config import Settings
    from videolearn.extractors.base import Extractor
    from videolearn.store import Store


def open_pipeline(
    store: Store,
    settings: Settings,
    extractors: Sequence[Extractor],
    hooks: Sequence[HookFactory] = (),
) -> Pipeline:
    """The engine (`settings.engine`) that indexes into `store` with `extractors` (in
    dependency order), then tells `hooks` of each stored video."""
    if settings.engine == "ray":
        from videolearn.pipeline.distributed import RayPipeline

        return RayPipeline(store, settings, extractors, hooks)
    from videolearn.pipeline.local import LocalPipeline

    return LocalPipeline(store, settings, extractors, hooks)


__all__ = [
    "HookFactory",
    "IndexHook",
    "IndexProgress",
    "IndexResult",
    "IndexStatus",
    "Pipeline",
    "Silent",
    "StoredVideo",
    "after_run_progress",
    "available_hooks",
    "open_pipeline",
]
