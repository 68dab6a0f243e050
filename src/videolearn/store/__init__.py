"""The library's storage: LanceDB tables for videos and what was found in them, SQLite for
the job ledger."""

from videolearn.store.embedded import LibraryStore, open_store

__all__ = ["LibraryStore", "open_store"]
