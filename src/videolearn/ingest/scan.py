"""Finding media files under the paths a user names, and identifying each by its content.

A video is identified by the sha256 of its bytes, so a moved or renamed file is the same
video. md5 is computed in the same read because hash banks exchange it.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from videolearn.errors import MediaError

VIDEO_EXTENSIONS = frozenset(
    [
        ".mp4",
        ".m4v",
        ".mov",
        ".mkv",
        ".webm",
        ".avi",
        ".wmv",
        ".flv",
        ".mpg",
        ".mpeg",
        ".ts",
        ".mts",
        ".m2ts",
        ".3gp",
        ".ogv",
    ]
)
AUDIO_EXTENSIONS = frozenset(
    [".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".wma"]
)
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS | AUDIO_EXTENSIONS

_READ_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class FoundFile:
    """A path found by a scan; `problem` is set when the named path itself is unusable."""

    path: Path
    problem: str | None = None


@dataclass(frozen=True)
class FileIdentity:
    """A file's content digests and the stat fields used to skip re-hashing it."""

    path: Path
    sha256: str
    md5: str
    size_bytes: int
    mtime_ns: int


def is_media_name(path: Path) -> bool:
    """True when the file name has a known audio or video extension."""
    return path.suffix.lower() in MEDIA_EXTENSIONS


def absolute_path(path: Path | str) -> Path:
    """The form paths are stored in: `~` expanded, absolute, `..` folded (links kept)."""
    # os.path's expanduser leaves "~nobody" as it is where Path's raises.
    return Path(os.path.normpath(Path(os.path.expanduser(path)).absolute()))  # noqa: PTH111


def iter_media_files(paths: Iterable[Path], follow_links_out: bool = False) -> Iterator[FoundFile]:
    """Yield media files under `paths`, each folder walked recursively in sorted order.

    A file named directly is yielded whatever its extension (the user asked for it); inside
    folders only known media extensions count. Hidden files and folders are skipped. A
    folder that cannot be read, and (unless `follow_links_out`) a link to a file outside
    the folder named, are yielded with their `problem`.
    """
    seen: set[Path] = set()
    for given in paths:
        path = absolute_path(given)
        if not path.exists():
            problem = "is a link that leads nowhere" if path.is_symlink() else "does not exist"
            yield FoundFile(path, problem)
            continue
        if path.is_dir():
            for found in _walk(path, follow_links_out):
                if found.path not in seen:
                    seen.add(found.path)
                    yield found
        elif path not in seen:
            seen.add(path)
            yield FoundFile(path)


def _walk(root: Path, follow_links_out: bool) -> Iterator[FoundFile]:
    unreadable: list[OSError] = []
    real_root = Path(os.path.realpath(root))
    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable.append):
        while unreadable:
            yield _unreadable(unreadable.pop(0))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.startswith(".") or not is_media_name(path):
                continue
            if not follow_links_out and path.is_symlink():
                target = Path(os.path.realpath(path))
                if not target.is_relative_to(real_root):
                    yield FoundFile(
                        path,
                        f"a link to {target}, outside {root}: not followed "
                        "(decode.follow_links_out)",
                    )
                    continue
            yield FoundFile(path)
    yield from map(_unreadable, unreadable)


def _unreadable(err: OSError) -> FoundFile:
    return FoundFile(Path(err.filename), f"folder could not be read: {_why(err)}")


def _why(err: OSError) -> str:
    return str(err.strerror or err).lower()


def stat_file(path: Path, max_size_bytes: int) -> os.stat_result:
    """Stat a file and check that it can be indexed at all.

    Raises:
        MediaError: missing, not a regular file, empty, or over `max_size_bytes`.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise MediaError(path, "is a link that leads nowhere") from None
        raise MediaError(path, "the file vanished before it could be read") from None
    except PermissionError:
        raise MediaError(path, "permission denied when reading the file") from None
    except OSError as err:  # a link loop, a name too long, an I/O error
        raise MediaError(path, f"could not be read: {_why(err)}") from None
    if not stat.S_ISREG(st.st_mode):
        raise MediaError(path, "not a regular file")
    if st.st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    if st.st_size > max_size_bytes:
        raise MediaError(
            path,
            f"file is {st.st_size:,} bytes, over the size limit of {max_size_bytes:,} bytes "
            "(decode.max_file_size_bytes)",
        )
    return st


def changed_since(identity: FileIdentity) -> str | None:
    """Why a file is no longer the one that was read (its size or time changed: still
    being written, or edited meanwhile; or gone), or None when it is the same."""
    try:
        st = identity.path.stat()
    except FileNotFoundError:
        return "the file vanished while it was read"
    except OSError as err:
        return f"could not be read: {_why(err)}"
    if (st.st_size, st.st_mtime_ns) == (identity.size_bytes, identity.mtime_ns):
        return None
    return (
        f"changed while it was read ({identity.size_bytes:,} bytes, now {st.st_size:,}): "
        "still being written? the next run reads it again"
    )


def identify(path: Path, max_size_bytes: int) -> FileIdentity:
    """Read a file once and return its sha256 and md5.

    Raises:
        MediaError: the file cannot be read, is empty, or is too large.
    """
    st = stat_file(path, max_size_bytes)
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    try:
        with path.open("rb") as f:
            while block := f.read(_READ_CHUNK_BYTES):
                sha256.update(block)
                md5.update(block)
    except FileNotFoundError:
        raise MediaError(path, "the file vanished before it could be read") from None
    except PermissionError:
        raise MediaError(path, "permission denied when reading the file") from None
    except OSError as err:
        raise MediaError(path, f"could not be read: {_why(err)}") from None
    return FileIdentity(path, sha256.hexdigest(), md5.hexdigest(), st.st_size, st.st_mtime_ns)
