"""The HTTP server `videolearn serve` runs: the API (`api/`, under `/api/v1/`) and the
web UI (`web/`, at `/`) in one FastAPI app over one opened library.

This module assembles the two adapters and owns what they share, so that neither imports
the other: the library and the searcher (`app.state`), the access policy, the rate limit,
CORS, and the error answers. FastAPI for typed parameters and the OpenAPI document;
`fastapi-offline` serves `/docs` with assets of its own, so the docs work with no network.

Access, by default: on loopback, no token (one person on their own machine), but a write
that a page of another site sends (its `Origin` or `Sec-Fetch-Site` says so) is refused
unless it brings a token;
`serve.loopback_tokens` asks for a token for every write there too. Beyond loopback, a
token (`videolearn token create`) for every request. A request carries it as
`Authorization: Bearer ...` or, from the browser after `/login`, as a cookie. Every client
address gets a token bucket (429 beyond it); CORS is off unless `serve.cors_origins` names
origins; no error answer carries a stack trace.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from videolearn.api.routes import router as api_router
from videolearn.apps import tokens
from videolearn.apps.jobs import IndexJobs
from videolearn.apps.playback import PlayableVersions
from videolearn.apps.search import Searcher
from videolearn.config import Settings, load_settings
from videolearn.errors import (
    JobNotFoundError,
    LibraryLockedError,
    ReviewItemNotFoundError,
    UploadTooLargeError,
    VideolearnError,
    VideoNotFoundError,
)
from videolearn.library import open_library
from videolearn.web.pages import STATIC_DIR, TOKEN_COOKIE, error_page
from videolearn.web.pages import router as web_router

log = logging.getLogger("videolearn.server")

# Who the audit log names for a write without a token on loopback.
LOOPBACK_CALLER = "someone on this machine"
# Paths anyone may read, whatever the policy: the login page and what it needs.
_OPEN_PATHS = ("/login", "/static/")
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_loopback(host: str) -> bool:
    """Whether `host` only listens to this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _wants_json(path: str) -> bool:
    return path.startswith("/api/") or path == "/openapi.json"


class _RateLimit:
    """A token bucket per client address: `rate_per_s` on average, `burst` at once;
    beyond it, 429 with Retry-After. Pure ASGI, so it runs before anything else."""

    def __init__(self, app: ASGIApp, rate_per_s: float, burst: int) -> None:
        self.app = app
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _allow(self, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            left, then = self._buckets.get(client, (float(self.burst), now))
            left = min(float(self.burst), left + (now - then) * self.rate_per_s)
            allowed = left >= 1.0
            self._buckets[client] = (left - 1.0 if allowed else left, now)
            if len(self._buckets) > 10_000:  # forget the clients whose buckets are full
                for c in [c for c, (t, _) in self._buckets.items() if t >= self.burst - 1]:
                    del self._buckets[c]
            return allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            client = scope.get("client")
            if not self._allow(client[0] if client else ""):
                response = JSONResponse(
                    {"error": "too many requests; slow down"},
                    status_code=429,
                    headers={"Retry-After": str(max(1, round(1 / self.rate_per_s)))},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _host_name(header: str) -> str:
    """The name in a Host header, without its port, lower case."""
    header = header.strip().lower()
    if header.startswith("["):  # [::1]:8765
        return header[1 : header.find("]")] if "]" in header else header
    name, _, port = header.rpartition(":")
    return (name if name and port.isdigit() else header).rstrip(".")


def allowed_hosts(serve_host: str, extra: list[str]) -> frozenset[str]:
    """The Host names a server listening on `serve_host` answers to.

    On loopback: its own address and the loopback names. On one address: that address.
    On every address (0.0.0.0, ::): this machine's names, and `_HostCheck` takes every
    address literal too. Any other name is refused unless `extra` (`serve.allowed_hosts`)
    lists it: only a name can be pointed at this machine by someone else's DNS.
    """
    import socket

    names = {_host_name(serve_host), *(_host_name(h) for h in extra)}
    if is_loopback(serve_host):
        names |= {"localhost", "127.0.0.1", "::1"}
    if serve_host in ("0.0.0.0", "::", ""):
        names |= {"localhost", socket.gethostname().lower(), socket.getfqdn().lower()}
    return frozenset(names - {""})


class _HostCheck:
    """400 for a request whose Host header names no address or name this server answers
    to (`allowed_hosts`): pure ASGI, before anything else runs."""

    def __init__(self, app: ASGIApp, names: frozenset[str], any_address: bool) -> None:
        self.app = app
        self.names = names
        self.any_address = any_address

    def _allowed(self, header: str) -> bool:
        name = _host_name(header)
        if name in self.names:
            return True
        if self.any_address:
            try:
                ipaddress.ip_address(name)
            except ValueError:
                return False
            return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            host = headers.get(b"host", b"").decode("latin-1")
            if not self._allowed(host):
                answer = JSONResponse(
                    {
                        "error": f"this server does not answer to the host {host[:100]!r} "
                        "(serve.allowed_hosts lists more names)"
                    },
                    400,
                )
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Access:
    """Who may do what: a token for every write when `writes_need_token`, and for every
    read when `reads_need_token`; a write without a token never from a page of another
    site; the login page and its assets are open. Plain ASGI: Starlette's
    `BaseHTTPMiddleware` would pass every chunk of a streamed file through a memory stream
    of its own."""

    def __init__(self, app: ASGIApp, reads_need_token: bool, writes_need_token: bool) -> None:
        self.app = app
        self.reads_need_token = reads_need_token
        self.writes_need_token = writes_need_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = request.url.path
        writes = request.method in _WRITE_METHODS
        # Where writes need no token, one a page of another site sends needs one all the
        # same (CSRF): that page cannot know it, and the login cookie stays on this site.
        cross = writes and not self.writes_need_token and _from_another_site(request)
        needs = (writes and self.writes_need_token) or self.reads_need_token
        caller = _caller(request) if needs or writes else None
        if cross and caller is None:
            refused = JSONResponse(
                {"error": "a write from a page of another site is refused without a token"}, 403
            )
            await refused(scope, receive, send)
            return
        # Who is asking, for the audit log (`request.state.caller`): the token's name, or
        # someone on this machine where writes need none.
        tokenless = writes and not self.writes_need_token
        scope.setdefault("state", {})["caller"] = caller or (LOOPBACK_CALLER if tokenless else "")
        if needs and not path.startswith(_OPEN_PATHS) and caller is None:
            message = (
                "a valid token is needed (Authorization: Bearer ...; `videolearn token create`)"
            )
            answer: Response
            if _wants_json(path) or writes:
                answer = JSONResponse(
                    {"error": message}, 401, headers={"WWW-Authenticate": "Bearer"}
                )
            else:
                back = path + (f"?{request.url.query}" if request.url.query else "")
                answer = Response(
                    status_code=303, headers={"Location": f"/login?next={quote(back)}"}
                )
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(
    settings: Settings,
    *,
    require_read_token: bool | None = None,
    require_write_token: bool | None = None,
) -> FastAPI:
    """The API and the web UI over the library of `settings`, opened when the app starts.

    Args:
        settings: the library's settings (`serve.*` for the server's own).
        require_read_token: whether reads need a token; by default, when `serve.host` is
            not a loopback address.
        require_write_token: whether writes need a token; by default, when `serve.host`
            is not a loopback address or `serve.loopback_tokens` asks for one.
    """
    serve = settings.serve
    beyond = not is_loopback(serve.host)
    reads_need_token = beyond if require_read_token is None else require_read_token
    writes_need_token = (
        beyond or serve.loopback_tokens or reads_need_token
        if require_write_token is None
        else require_write_token
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        library = open_library(settings=settings)
        app.state.library = library
        app.state.searcher = Searcher(library)
        app.state.jobs = IndexJobs(library)
        app.state.playables = PlayableVersions(library)
        # The access policy, for the pages that say what needs a token.
        app.state.reads_need_token = reads_need_token
        app.state.writes_need_token = writes_need_token
        # Writes one at a time (each also takes the library's write lock).
        app.state.writes = threading.Lock()
        try:
            yield
        finally:
            app.state.jobs.close()
            app.state.playables.close()
            library.close()

    app = FastAPIOffline(
        title="videolearn",
        version="1",
        description="Moments, videos and hashes of a videolearn library.",
        lifespan=lifespan,
        redoc_url=None,
    )

    app.add_middleware(
        _Access, reads_need_token=reads_need_token, writes_need_token=writes_need_token
    )
    if serve.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(serve.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Range"],
        )
    app.add_middleware(_RateLimit, rate_per_s=serve.rate_per_s, burst=serve.rate_burst)
    app.add_middleware(
        _HostCheck,
        names=allowed_hosts(serve.host, serve.allowed_hosts),
        any_address=serve.host in ("0.0.0.0", "::", ""),
    )

    def _answer(request: Request, status: int, message: str) -> Response:
        if _wants_json(request.url.path):
            return JSONResponse({"error": message}, status)
        return error_page(request, status, message)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, err: HTTPException) -> Response:
        return _answer(request, err.status_code, str(err.detail))

    @app.exception_handler(VideolearnError)
    async def _known(request: Request, err: VideolearnError) -> Response:
        # QueryError, OptionError and the rest: the request asked for what cannot be.
        status = 400
        if isinstance(err, (VideoNotFoundError, JobNotFoundError, ReviewItemNotFoundError)):
            status = 404
        elif isinstance(err, LibraryLockedError):
            status = 409
        elif isinstance(err, UploadTooLargeError):
            status = 413
        return _answer(request, status, str(err))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> Response:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg', 'invalid')}"
            for e in err.errors()
        ]
        return _answer(request, 400, "; ".join(problems) or "invalid request")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, err: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.url.path)
        return _answer(request, 500, "internal error; the server's log has the details")

    app.include_router(api_router)
    app.include_router(web_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _errors_as_answered(build_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _errors_as_answered(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with the error answers this server gives: 400 (not FastAPI's
    422) for bad input, 404 where a path names something, 401, 409 and 413 for writes,
    429 everywhere; each `{"error": "..."}`."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Error"] = {
        "type": "object",
        "properties": {"error": {"type": "string", "description": "What was wrong."}},
        "required": ["error"],
    }

    def error(description: str) -> dict[str, Any]:
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        return {"description": description, "content": content}

    for path, operations in schema.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            answers = operation.setdefault("responses", {})
            answers.pop("422", None)
            answers["400"] = error("Bad input: a parameter missing, malformed or out of range")
            if "{" in path:
                answers["404"] = error("No such video, job, bank or format")
            if method.upper() in _WRITE_METHODS:
                answers["401"] = error("A valid token is needed")
                answers["409"] = error("Another process is writing to the library")
                body = operation.get("requestBody", {}).get("content", {})
                if "application/octet-stream" in body:
                    answers["413"] = error("The body is larger than serve.upload_max_bytes")
            answers["429"] = error("Too many requests from this client")
    return schema


def _from_another_site(request: Request) -> bool:
    """Whether a browser says the request comes from a page of another origin than this
    server's (a client that is no browser sends neither header)."""
    site = request.headers.get("sec-fetch-site", "")
    if site in ("cross-site", "same-site"):
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    return origin.lower() != own.lower()


def _caller(request: Request) -> str | None:
    """The name of the active token a request brings (header or cookie), or None."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        token = request.cookies.get(TOKEN_COOKIE, "")
    if not token:
        return None
    found = tokens.check_token(request.app.state.library, token.strip())
    return None if found is None else found.name


def app_from_env() -> FastAPI:
    """The app over the library `VIDEOLEARN_LIBRARY` names, with settings read as every
    command reads them (`VIDEOLEARN_SERVE__PORT`, the library's TOML file): the factory
    `videolearn serve` hands uvicorn (`uvicorn --factory videolearn.server:app_from_env`
    works the same)."""
    return create_app(load_settings())
