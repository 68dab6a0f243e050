"""API tokens: made, listed and revoked from the CLI, checked by the HTTP API.

A token is shown once, when it is made; the library keeps only its SHA-256
(`store/tokens.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from videolearn.library import Library
from videolearn.store.tokens import TokenInfo

__all__ = [
    "NewToken",
    "TokenInfo",
    "check_token",
    "create_token",
    "list_tokens",
    "revoke_token",
    "token_json",
]


@dataclass(frozen=True)
class NewToken:
    """A token just made: the only time `token` is seen."""

    name: str
    token: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "token": self.token}


def token_json(info: TokenInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "created_at": info.created_at,
        "last_used_at": info.last_used_at,
        "revoked_at": info.revoked_at,
        "active": info.active,
    }


def create_token(library: Library, name: str) -> NewToken:
    """Make a token named `name`.

    Raises:
        OptionError: the name is malformed or taken.
    """
    return NewToken(name, library.store.tokens.create(name))


def list_tokens(library: Library) -> list[TokenInfo]:
    return library.store.tokens.list()


def revoke_token(library: Library, name: str) -> TokenInfo:
    """Revoke the token named `name`.

    Raises:
        OptionError: no active token has that name.
    """
    return library.store.tokens.revoke(name)


def check_token(library: Library, token: str) -> TokenInfo | None:
    """The active token `token` is, or None."""
    return library.store.tokens.check(token)
