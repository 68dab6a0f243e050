"""API tokens: who may write to a library over HTTP (and read, when the server listens
beyond loopback). Kept in the library's SQLite file (`store.database` owns it).

Only a token's SHA-256 is stored: a token is 32 random bytes, so a fast hash is enough
(a slow one guards guessable passwords), and a copy of the file hands out no token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass

from videolearn.errors import OptionError

TOKEN_PREFIX = "vl_"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never the token itself."""

    name: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """Tokens by name, on the library database's connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def create(self, name: str) -> str:
        """A new token named `name`; the token is returned here and never again.

        Raises:
            OptionError: the name is not 1-64 letters, digits, `_.-`, or is taken.
        """
        if not _NAME.match(name):
            raise OptionError(f"token name {name!r}: use 1-64 letters, digits, '_', '.' or '-'")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            self._db.execute(
                "INSERT INTO tokens (name, digest, created_at) VALUES (?, ?, ?)",
                (name, _digest(token), time.time()),
            )
        except sqlite3.IntegrityError:
            raise OptionError(
                f"a token named {name!r} exists; revoke it or pick another name"
            ) from None
        return token

    def list(self) -> list[TokenInfo]:
        rows = self._db.execute(
            "SELECT name, created_at, last_used_at, revoked_at FROM tokens ORDER BY name"
        ).fetchall()
        return [TokenInfo(*row) for row in rows]

    def revoke(self, name: str) -> TokenInfo:
        """Revoke the token named `name` (it stays listed, revoked).

        Raises:
            OptionError: no active token has that name.
        """
        changed = self._db.execute(
            "UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
            (time.time(), name),
        ).rowcount
        if not changed:
            raise OptionError(f"no active token is named {name!r}")
        return next(t for t in self.list() if t.name == name)

    def check(self, token: str) -> TokenInfo | None:
        """The active token `token` is, or None; records that it was used."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        digest = _digest(token)
        row = self._db.execute(
            "SELECT name, created_at, last_used_at, revoked_at FROM tokens "
            "WHERE digest = ? AND revoked_at IS NULL",
            (digest,),
        ).fetchone()
        if row is None:
            return None
        self._db.execute(
            "UPDATE tokens SET last_used_at = ? WHERE digest = ?", (time.time(), digest)
        )
        return TokenInfo(*row)
