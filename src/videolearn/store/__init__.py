"""The library's storage, behind the `Store` protocol: `open_store(uri)` is the one way in.

A path (or a `file://` URI) is an embedded library: LanceDB tables and a SQLite file in one
directory (`store.embedded`). The URI leaves room for stores elsewhere; none is built yet.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from videolearn.errors import LibraryNotFoundError
from videolearn.store.base import ExtractorOutput, Store, version_tag

__all__ = ["ExtractorOutput", "Store", "open_store", "version_tag"]


def open_store(uri: str | Path, create: bool = False) -> Store:
    """Open the store at `uri`; with `create`, make it when missing.

    Args:
        uri: a library directory, as a path or a `file://` URI.
        create: make an empty library when there is none.

    Raises:
        LibraryNotFoundError: nothing at `uri` is a library (and `create` is False), or
            `uri` names a kind of store this version cannot open.
    """
    from videolearn.store.embedded import open_embedded_store

    if isinstance(uri, Path):
        return open_embedded_store(uri, create)
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise LibraryNotFoundError(f"{uri}: a file:// library must be on this machine")
        return open_embedded_store(Path(unquote(parsed.path)), create)
    # One letter before ":" is a Windows drive, not a scheme.
    if parsed.scheme and len(parsed.scheme) > 1:
        raise LibraryNotFoundError(
            f"{uri}: cannot open a {parsed.scheme}:// library; give a directory or a file:// URI"
        )
    return open_embedded_store(Path(uri), create)
