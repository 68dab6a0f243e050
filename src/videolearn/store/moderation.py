"""Policy verdicts waiting for a person, their decisions, and the audit log, kept in the
library's SQLite file (`store.database` owns it).

A verdict is kept once per video, policy and evidence (`evidence_key`): a verdict a
reviewer rejected is not queued again for the same evidence, while new evidence (another
term, another stretch) queues it again. Flags are kept as `noted`; `review` and `block`
verdicts wait as `pending` until a person accepts or rejects them.

The audit log is appended to and never changed: triggers refuse an UPDATE or a DELETE,
and each row holds the SHA-256 of its own content and of the row before it, so that a row
edited or deleted behind the library's back (with the triggers dropped) breaks the chain
(`verify`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from videolearn.store.transaction import transaction

STATUSES = ("pending", "accepted", "rejected", "noted")
# A `block` verdict holds its video back while it has one of these (not once rejected).
HOLDING = ("pending", "accepted")
# The videos a `block` verdict holds back, as SQL over `review_items`.
HELD_BACK_VIDEOS = (
    "SELECT video_id FROM review_items WHERE action = 'block' AND status IN "
    f"({', '.join(repr(s) for s in HOLDING)})"
)
# The hash the first row of the audit log chains to.
GENESIS = "0" * 64


@dataclass(frozen=True)
class ReviewItem:
    """A verdict kept for people: what was found, and what they decided."""

    id: int
    video_id: str
    policy: str
    action: str
    status: str
    verdict: dict[str, Any]
    created_at: float
    decided_at: float | None = None
    decided_by: str = ""
    note: str = ""

    @property
    def holds_back(self) -> bool:
        """Whether it keeps its video out of every listing: a `block` not rejected (what
        `ModerationStore.blocked` selects)."""
        return self.action == "block" and self.status in HOLDING

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "video_id": self.video_id,
            "path": self.verdict.get("path", ""),
            "policy": self.policy,
            "action": self.action,
            "status": self.status,
            "score": self.verdict.get("score"),
            "evidence": self.verdict.get("evidence", []),
            "created": self.created_at,
            "decided": self.decided_at,
            "decided_by": self.decided_by,
            "note": self.note,
        }


@dataclass(frozen=True)
class Delivery:
    """A verdict waiting to be posted to a webhook, and how often that was tried."""

    id: int
    item_id: int
    video_id: str
    url: str
    body: str
    attempts: int


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log: who did what, to what, when, and why."""

    id: int
    at: float
    who: str
    what: str
    subject: str
    detail: dict[str, Any]
    previous: str
    digest: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "who": self.who,
            "what": self.what,
            "subject": self.subject,
            "detail": self.detail,
            "hash": self.digest,
        }


def _digest(*row: str | float) -> str:
    """The SHA-256 of a row: the row before's hash, when, who, what, subject, detail."""
    body = json.dumps([repr(f) if isinstance(f, float) else f for f in row], ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


_ITEM_COLUMNS = (
    "id, video_id, policy, action, status, verdict, created_at, decided_at, decided_by, note"
)


def _item(row: Sequence[Any]) -> ReviewItem:
    i, video_id, policy, action, status, verdict, created, decided, by, note = row
    return ReviewItem(
        int(i), video_id, policy, action, status, json.loads(verdict), created, decided, by, note
    )


class ModerationStore:
    """Review items and the audit log, on the library database's connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def keep(
        self, video_id: str, policy: str, action: str, evidence_key: str, verdict: dict[str, Any]
    ) -> ReviewItem | None:
        """Keep a verdict unless the same video, policy and evidence were kept before;
        the new item, or None."""
        status = "noted" if action == "flag" else "pending"
        cur = self._db.execute(
            "INSERT OR IGNORE INTO review_items (video_id, policy, action, evidence_key, "
            "verdict, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (video_id, policy, action, evidence_key, json.dumps(verdict), status, time.time()),
        )
        if not cur.rowcount:
            return None
        return self.item(int(cur.lastrowid or 0))

    def item(self, item_id: int) -> ReviewItem | None:
        row = self._db.execute(
            f"SELECT {_ITEM_COLUMNS} FROM review_items WHERE id = ?", (item_id,)
        ).fetchone()
        return None if row is None else _item(row)

    def items(self, status: str | None = None, video_id: str | None = None) -> list[ReviewItem]:
        where, args = ["1"], list[str]()
        if status is not None:
            where, args = [*where, "status = ?"], [*args, status]
        if video_id is not None:
            where, args = [*where, "video_id = ?"], [*args, video_id]
        sql = f"SELECT {_ITEM_COLUMNS} FROM review_items WHERE {' AND '.join(where)} ORDER BY id"
        return [_item(r) for r in self._db.execute(sql, args)]

    def page(self, status: str, offset: int, limit: int) -> list[ReviewItem]:
        """A page of the items with `status`, in the order a reviewer takes them: pending
        ones `block` first, then `review`, oldest first within each (a queue); decided ones
        latest decision first; noted ones newest first."""
        order = {
            "pending": "CASE action WHEN 'block' THEN 0 WHEN 'review' THEN 1 ELSE 2 END, id",
            "accepted": "decided_at DESC, id DESC",
            "rejected": "decided_at DESC, id DESC",
        }.get(status, "id DESC")
        rows = self._db.execute(
            f"SELECT {_ITEM_COLUMNS} FROM review_items WHERE status = ? ORDER BY {order} "
            "LIMIT ? OFFSET ?",
            (status, limit, offset),
        )
        return [_item(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many items have each status (every status, 0 for none)."""
        rows = self._db.execute("SELECT status, COUNT(*) FROM review_items GROUP BY status")
        return {**dict.fromkeys(STATUSES, 0), **{str(s): int(n) for s, n in rows}}

    def decide(self, item_id: int, status: str, who: str, note: str) -> ReviewItem:
        """Record a person's decision on an item (it may change an earlier one)."""
        self._db.execute(
            "UPDATE review_items SET status = ?, decided_at = ?, decided_by = ?, note = ? "
            "WHERE id = ?",
            (status, time.time(), who, note, item_id),
        )
        item = self.item(item_id)
        assert item is not None
        return item

    def blocked(self) -> set[str]:
        """Videos a `block` verdict holds back: pending or accepted, not rejected."""
        return {r[0] for r in self._db.execute(HELD_BACK_VIDEOS)}

    def forget_video(self, video_id: str) -> None:
        self._db.execute("DELETE FROM review_items WHERE video_id = ?", (video_id,))

    def get_state(self, key: str) -> str | None:
        row = self._db.execute(
            "SELECT value FROM moderation_state WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO moderation_state (key, value) VALUES (?, ?)", (key, value)
        )

    # Webhook deliveries.

    def enqueue(self, item_id: int, video_id: str, url: str, body: str) -> None:
        self._db.execute(
            "INSERT INTO webhook_outbox (item_id, video_id, url, body, next_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (item_id, video_id, url, body, time.time()),
        )

    def due(self, now: float) -> list[Delivery]:
        """Deliveries to try now, oldest first."""
        rows = self._db.execute(
            "SELECT id, item_id, video_id, url, body, attempts FROM webhook_outbox "
            "WHERE delivered_at IS NULL AND given_up_at IS NULL AND next_at <= ? ORDER BY id",
            (now,),
        )
        return [Delivery(*r) for r in rows]

    def next_due(self) -> float | None:
        """When the next delivery waiting is due; None when none waits."""
        row = self._db.execute(
            "SELECT min(next_at) FROM webhook_outbox "
            "WHERE delivered_at IS NULL AND given_up_at IS NULL"
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def tried(
        self, delivery_id: int, *, delivered: bool, error: str = "", retry_at: float | None
    ) -> None:
        """Record an attempt: delivered, to be tried again at `retry_at`, or (None) given
        up."""
        now = time.time()
        self._db.execute(
            "UPDATE webhook_outbox SET attempts = attempts + 1, last_error = ?, "
            "delivered_at = ?, given_up_at = ?, next_at = ? WHERE id = ?",
            (
                error,
                now if delivered else None,
                None if delivered or retry_at is not None else now,
                retry_at if retry_at is not None else now,
                delivery_id,
            ),
        )

    # The audit log.

    def append(self, who: str, what: str, subject: str, detail: dict[str, Any]) -> AuditEntry:
        """Append a row, chained to the last one."""
        text = json.dumps(detail, ensure_ascii=False, sort_keys=True)
        with transaction(self._db):
            row = self._db.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
            previous = row[0] if row else GENESIS
            at = time.time()
            digest = _digest(previous, at, who, what, subject, text)
            cur = self._db.execute(
                "INSERT INTO audit_log (at, who, what, subject, detail, previous, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (at, who, what, subject, text, previous, digest),
            )
        return AuditEntry(int(cur.lastrowid or 0), at, who, what, subject, detail, previous, digest)

    def audit(self, subject: str | None = None) -> list[AuditEntry]:
        sql = "SELECT id, at, who, what, subject, detail, previous, hash FROM audit_log"
        rows = (
            self._db.execute(sql + " WHERE subject = ? ORDER BY id", (subject,))
            if subject is not None
            else self._db.execute(sql + " ORDER BY id")
        )
        return [
            AuditEntry(int(i), at, who, what, subj, json.loads(detail), prev, digest)
            for i, at, who, what, subj, detail, prev, digest in rows
        ]

    def verify(self) -> list[str]:
        """What breaks the audit log's chain: a row whose content no longer gives its
        hash (edited), one that does not follow the row before it (a row deleted or put
        in between), rows missing at the end. Empty when the log is whole."""
        problems = []
        previous, expected_id = GENESIS, 1
        rows = self._db.execute(
            "SELECT id, at, who, what, subject, detail, previous, hash FROM audit_log ORDER BY id"
        )
        for i, at, who, what, subject, detail, prev, digest in rows:
            if i != expected_id:
                problems.append(f"rows {expected_id}-{i - 1} are missing")
            if prev != previous:
                problems.append(f"row {i} does not follow the row before it")
            if _digest(prev, at, who, what, subject, detail) != digest:
                problems.append(f"row {i} was changed after it was written")
            previous, expected_id = digest, i + 1
        last = self._db.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'"
        ).fetchone()
        if last is not None and int(last[0]) >= expected_id:
            problems.append(f"rows {expected_id}-{int(last[0])} at the end are missing")
        return problems
