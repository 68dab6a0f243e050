"""Policies' webhooks: each new verdict of a policy with a `webhook` is kept in an outbox
in the library's SQLite file and posted there as JSON by a thread of its own (on its own
connection), so that indexing never waits on a slow or absent receiver. A failed post is
tried again later, twice as long after each failure; every try is written to the audit
log. An index run or `moderate` waits at most `moderation.webhook_grace_s` at its end;
what is left goes with the next run. A receiver may see a verdict twice (a process killed
between the post and its record): the body's `item` tells them apart.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from videolearn.config import ModerationSettings
from videolearn.store.database import LibraryDatabase, open_database
from videolearn.store.moderation import Delivery

# The longest wait between two tries of one delivery.
MAX_RETRY_S = 300.0
# Who the audit log names for a delivery.
SENDER = "videolearn"


def post(url: str, body: str, timeout_s: float) -> int:
    """POST a JSON body; the HTTP status.

    Raises:
        OSError: no answer (refused, timed out) or a non-2xx answer (`HTTPError`).
    """
    request = urllib.request.Request(
        url,
        data=body.encode("utf-8"),
        headers={"Content-Type": "application/json", "User-Agent": "videolearn"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        err.close()  # it holds the answer's connection
        raise


class Deliverer:
    """Posts what waits in a library's outbox, on a thread, until nothing waits or it is
    told to stop."""

    def __init__(self, library_root: Path, settings: ModerationSettings) -> None:
        self.library_root = library_root
        self.settings = settings
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()

    def start(self) -> None:
        """Start posting (again, if the thread finished); wake it when it waits."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
            self._thread.start()
        self._wake.set()

    def finish(self, grace_s: float | None = None) -> bool:
        """Wait at most `grace_s` (the setting when None) for what waits to be posted;
        True when nothing is left in flight."""
        if self._thread is None:
            return True
        self._thread.join(self.settings.webhook_grace_s if grace_s is None else grace_s)
        self._stop.set()
        self._wake.set()
        return not self._thread.is_alive()

    def _run(self) -> None:
        db = open_database(self.library_root)
        try:
            while not self._stop.is_set():
                for delivery in db.moderation.due(time.time()):
                    if self._stop.is_set():
                        return
                    self._try(db, delivery)
                following = db.moderation.next_due()
                if following is None:
                    return
                self._wake.wait(max(0.0, min(following - time.time(), 1.0)))
                self._wake.clear()
        finally:
            db.close()

    def _try(self, db: LibraryDatabase, delivery: Delivery) -> None:
        s = self.settings
        attempt = delivery.attempts + 1
        detail: dict[str, object] = {
            "item": delivery.item_id,
            "url": delivery.url,
            "attempt": attempt,
        }
        try:
            status = post(delivery.url, delivery.body, s.webhook_timeout_s)
        except (OSError, ValueError) as err:  # URLError, HTTPError and timeouts are OSErrors
            error = f"{type(err).__name__}: {err}"[:300]
            retry_at = None
            if attempt < s.webhook_attempts:
                retry_at = time.time() + min(s.webhook_retry_s * 2 ** (attempt - 1), MAX_RETRY_S)
            db.moderation.tried(delivery.id, delivered=False, error=error, retry_at=retry_at)
            outcome = "failed, to be tried again" if retry_at is not None else "given up"
            detail |= {"outcome": outcome, "error": error}
        else:
            db.moderation.tried(delivery.id, delivered=True, retry_at=None)
            detail |= {"outcome": "delivered", "http_status": status}
        db.moderation.append(SENDER, "delivery", delivery.video_id, detail)
