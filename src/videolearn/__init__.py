"""videolearn: index a video library once, learn from it without labels, and serve moment
search, recommendations, policy enforcement and transcription over it.

Names are imported on first use so that `import videolearn` (and `videolearn --help`)
stays instant and the decode child processes do not load the store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from videolearn.config import Settings, load_settings
    from videolearn.errors import MediaError, VideolearnError
    from videolearn.library import IndexResult, Library, open_library
    from videolearn.types import MediaInfo, TimeSpan

_WHERE = {
    "IndexResult": "videolearn.library",
    "Library": "videolearn.library",
    "MediaError": "videolearn.errors",
    "MediaInfo": "videolearn.types",
    "Settings": "videolearn.config",
    "TimeSpan": "videolearn.types",
    "VideolearnError": "videolearn.errors",
    "load_settings": "videolearn.config",
    "open_library": "videolearn.library",
}

__all__ = [
    "IndexResult",
    "Library",
    "MediaError",
    "MediaInfo",
    "Settings",
    "TimeSpan",
    "VideolearnError",
    "load_settings",
    "open_library",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'videolearn' has no attribute {name!r}")
