"""Errors videolearn raises on purpose. Each carries a message a person can act on."""

from __future__ import annotations

from pathlib import Path


class VideolearnError(Exception):
    """Base of every error videolearn raises on purpose."""


class MediaError(VideolearnError):
    """A file could not be read as media. `reason` is one sentence without the path."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class LibraryLockedError(VideolearnError):
    """Another process is writing to the library."""


class StoreWriteError(VideolearnError):
    """The library could not be written (a full disk, a read-only folder): the run stops,
    and what was stored before stays as it was."""


class LibraryNotFoundError(VideolearnError):
    """The library directory does not exist or is not a library."""


class VideoNotFoundError(VideolearnError):
    """No indexed video matches the given path or id."""


class ExtractorError(VideolearnError):
    """An extractor is misdeclared or failed on a file."""


class RayEngineError(VideolearnError):
    """The ray engine could not start or reach Ray."""


class JobNotFoundError(VideolearnError):
    """No index job has that number (on this server, since it started)."""


class QueryError(VideolearnError):
    """A search query or one of its filters cannot be understood."""


class BankError(VideolearnError):
    """A bank operation was refused; the message says why (and which line of a file)."""


class UploadTooLargeError(VideolearnError):
    """An upload is larger than `serve.upload_max_bytes`."""


class OptionError(VideolearnError):
    """An option's value cannot be used; the message says which and why."""


class PolicyError(VideolearnError):
    """A policy file cannot be used; the message names the file, the line and why."""


class ReviewError(VideolearnError):
    """A review decision cannot be made; the message says why."""


class ReviewItemNotFoundError(ReviewError):
    """No kept verdict has that id."""
