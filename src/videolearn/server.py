"""The HTTP server `videolearn serve` runs: the API (`api/`, under `/api/v1/`) and the
web UI (`web/`, at `/`) in one FastAPI app over one opened library.

This module assembles the two adapters and owns what they share, so that neither imports
the other: the library and the searcher (`app.state`), the access policy, the rate limit,
CORS, and the error answers. FastAPI for typed parameters and the OpenAPI document;
`fastapi-offline` serves `/docs` with assets of its own, so the docs work with no network.

Access, by default: a token (`videolearn token create`) for every write, and for every
read too when the server listens on anything but loopback. A request carries it as
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
    UploadTooLargeError,
    VideolearnError,
    VideoNotFoundError,
)
from videolearn.library import open_library
from videolearn.web.pages import STATIC_DIR, TOKEN_COOKIE, error_page
from videolearn.web.pages import router as web_router

log = logging.getLogger("videolearn.server")

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


class _Access:
    """Who may do what: a token for every write, and for every read when
    `reads_need_token`; the login page and its assets are open. Plain ASGI: Starlette's
    `BaseHTTPMiddleware` would pass every chunk of a streamed file through a memory stream
    of its own."""

    def __init__(self, app: ASGIApp, reads_need_token: bool) -> None:
        self.app = app
        self.reads_need_token = reads_need_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = request.url.path
        writes = request.method in _WRITE_METHODS
        needs = writes or self.reads_need_token
        if needs and not path.startswith(_OPEN_PATHS) and not _has_token(request):
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


def create_app(settings: Settings, *, require_read_token: bool | None = None) -> FastAPI:
    """The API and the web UI over the library of `settings`, opened when the app starts.

    Args:
        settings: the library's settings (`serve.*` for the server's own).
        require_read_token: whether reads need a token too; by default, when `serve.host`
            is not a loopback address.
    """
    serve = settings.serve
    reads_need_token = (
        not is_loopback(serve.host) if require_read_token is None else require_read_token
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        library = open_library(settings=settings)
        app.state.library = library
        app.state.searcher = Searcher(library)
        app.state.jobs = IndexJobs(library)
        app.state.playables = PlayableVersions(library)
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

    app.add_middleware(_Access, reads_need_token=reads_need_token)
    if serve.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(serve.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Range"],
        )
    app.add_middleware(_RateLimit, rate_per_s=serve.rate_per_s, burst=serve.rate_burst)

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
        if isinstance(err, (VideoNotFoundError, JobNotFoundError)):
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
    return app


def _has_token(request: Request) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        token = request.cookies.get(TOKEN_COOKIE, "")
    return bool(token) and tokens.check_token(request.app.state.library, token.strip()) is not None


def app_from_env() -> FastAPI:
    """The app over the library `VIDEOLEARN_LIBRARY` names, with settings read as every
    command reads them (`VIDEOLEARN_SERVE__PORT`, the library's TOML file): the factory
    `videolearn serve` hands uvicorn (`uvicorn --factory videolearn.server:app_from_env`
    works the same)."""
    return create_app(load_settings())
