"""How `videolearn serve` runs uvicorn: its HTTP protocol, with a bound on request heads.

uvicorn's httptools protocol (the fast one, chosen for media serving) keeps a request's
head in memory however long it grows: a 60 MB header was read whole. This subclass counts
the bytes of each request's head as they arrive and answers 431 once it passes
`serve.max_head_bytes` (by at most one read), before the rest is read. It sits beside
the layers (the CLI, which may not import the server, hands it to uvicorn).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_TOO_LARGE = b"request head too large (serve.max_head_bytes)"
# How long a refused connection is still read (and dropped) before it is closed.
_LINGER_S = 2.0


class _BoundedHead(HttpToolsProtocol):
    max_head_bytes = 64 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # read and dropped until the connection closes
        was_in_head = self._in_head
        super().data_received(data)
        # Counted only while the head goes on past the chunk: a chunk that ends a head
        # may carry the start of a body, which is no head's.
        if was_in_head and self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse()

    def _refuse(self) -> None:
        """Answer 431 and close. A close with unread bytes would reset the connection and
        the client could lose the answer: the rest is read and dropped for a moment."""
        self._refused = True
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(_TOO_LARGE)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + _TOO_LARGE
        )
        if self.transport.can_write_eof():
            self.transport.write_eof()
        asyncio.get_running_loop().call_later(_LINGER_S, self.transport.close)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True  # the next request on this connection starts its head
        self._head_bytes = 0


def http_protocol(max_head_bytes: int) -> type[HttpToolsProtocol]:
    """uvicorn's `http=` protocol class, answering 431 to a request whose head (request
    line and headers) is longer than `max_head_bytes`."""
    return type("BoundedHeadHttpTools", (_BoundedHead,), {"max_head_bytes": max_head_bytes})
