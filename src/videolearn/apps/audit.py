"""The audit log as people read it: every verdict, decision, action, bank change and
policy change, who made it, when and why; and a check that nothing in it was changed
(`store.moderation` keeps it, each row chained to the one before by its hash)."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Any

from videolearn.library import Library
from videolearn.store.moderation import AuditEntry


def actor(who: str = "") -> str:
    """Who is acting: `who` when given (an API token's name), else the user running this
    process."""
    if who:
        return who
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid
        return "unknown"


def record(
    library: Library, what: str, subject: str, detail: dict[str, Any], who: str = ""
) -> AuditEntry:
    """Append a row to the audit log."""
    return library.store.moderation.append(actor(who), what, subject, detail)


def audit_log(library: Library, subject: str | None = None) -> list[AuditEntry]:
    """The audit log, oldest first; with `subject`, only its rows (a video id, a bank)."""
    return library.store.moderation.audit(subject)


@dataclass(frozen=True)
class AuditCheck:
    """Whether the audit log is whole, and what breaks it."""

    rows: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "problems": list(self.problems)}


def verify_audit(library: Library) -> AuditCheck:
    """Check every row of the audit log against its hash and the row before it."""
    store = library.store.moderation
    return AuditCheck(len(store.audit()), tuple(store.verify()))
