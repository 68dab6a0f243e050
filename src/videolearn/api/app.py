"""The HTTP API under `/api/v1/`, served by `videolearn serve` (uvicorn).

An adapter like the CLI: each endpoint translates a request into one `apps` call and its
result into the CLI's JSON shape (`GET /api/v1/search` answers the moments of
`search --json` as one list). FastAPI for the typed parameters and the OpenAPI document;
`fastapi-offline` serves `/docs` with assets of its own, so the docs work with no network.

Security, by default: a bearer token (`videolearn token create`) for every write, and for
every read too when the server listens on anything but loopback; a per-client rate limit
(429); CORS off unless `serve.cors_origins` names origins; no error response carries a
stack trace. Media is served only as `apps.playback` allows (a video id in, the indexed
path out), with HTTP range requests (Starlette's `FileResponse`).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Receive, Scope, Send

from videolearn.apps import catalog, playback, tokens
from videolearn.apps.search import Searcher, SearchFilters
from videolearn.apps.transcribe import render, stored_transcript
from videolearn.config import Settings, load_settings
from videolearn.errors import LibraryLockedError, VideolearnError, VideoNotFoundError
from videolearn.library import Library, open_library

log = logging.getLogger("videolearn.api")

API = "/api/v1"
_TEXT_TYPES = {
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}


class ApiError(Exception):
    """An answer other than 200, with the message the client reads."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def is_loopback(host: str) -> bool:
    """Whether `host` only listens to this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _RateLimit:
    """A token bucket per client address: `rate_per_s` on average, `burst` at once;
    beyond it, 429 with Retry-After. Pure ASGI, so it runs before any endpoint."""

    def __init__(self, app: ASGIApp, rate_per_s: float, burst: int) -> None:
        self.app = app
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _allow(self, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens_left, then = self._buckets.get(client, (float(self.burst), now))
            tokens_left = min(float(self.burst), tokens_left + (now - then) * self.rate_per_s)
            allowed = tokens_left >= 1.0
            self._buckets[client] = (tokens_left - 1.0 if allowed else tokens_left, now)
            if len(self._buckets) > 10_000:  # forget clients that have been idle
                full = [c for c, (t, _) in self._buckets.items() if t >= self.burst - 1]
                for c in full:
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


def create_app(settings: Settings, *, require_read_token: bool | None = None) -> FastAPI:
    """The API over the library of `settings`, opened when the app starts.

    Args:
        settings: the library's settings (`serve.*` for the server's own).
        require_read_token: whether reads need a token too; by default, when
            `serve.host` is not a loopback address.
    """
    serve = settings.serve
    reads_need_token = (
        not is_loopback(serve.host) if require_read_token is None else require_read_token
    )
    state: dict[str, Any] = {}
    writes = threading.Lock()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        library = open_library(settings=settings)
        state["library"] = library
        state["searcher"] = Searcher(library)
        try:
            yield
        finally:
            library.close()

    app = FastAPIOffline(
        title="videolearn",
        version="1",
        description="Moments, videos and hashes of a videolearn library.",
        lifespan=lifespan,
        redoc_url=None,
    )
    if serve.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(serve.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Range"],
        )
    app.add_middleware(_RateLimit, rate_per_s=serve.rate_per_s, burst=serve.rate_burst)

    def library() -> Library:
        lib: Library = state["library"]
        return lib

    def _token(request: Request) -> tokens.TokenInfo:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        found = tokens.check_token(library(), token.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            raise ApiError(
                401,
                "a valid token is needed (Authorization: Bearer ...; `videolearn token create`)",
                {"WWW-Authenticate": "Bearer"},
            )
        return found

    def reader(request: Request) -> None:
        if reads_need_token:
            _token(request)

    def writer(request: Request) -> None:
        _token(request)

    can_read = Depends(reader)
    can_write = Depends(writer)

    # -- errors: a message, never a stack trace -------------------------------------

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, err: ApiError) -> JSONResponse:
        return JSONResponse({"error": err.message}, err.status, headers=err.headers)

    @app.exception_handler(VideolearnError)
    async def _known(_: Request, err: VideolearnError) -> JSONResponse:
        # QueryError, OptionError and the rest: the request asked for what cannot be.
        status = 400
        if isinstance(err, VideoNotFoundError):
            status = 404
        elif isinstance(err, LibraryLockedError):
            status = 409
        return JSONResponse({"error": str(err)}, status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg', 'invalid')}"
            for e in err.errors()
        ]
        return JSONResponse({"error": "; ".join(problems) or "invalid request"}, 400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, err: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse({"error": "internal error; the server's log has the details"}, 500)

    # -- endpoints ----------------------------------------------------------------------

    @app.get(f"{API}/status", dependencies=[can_read])
    def get_status() -> dict[str, Any]:
        """Indexed, failed and pending files (`status --json`)."""
        return catalog.status(library()).to_json()

    @app.get(f"{API}/videos", dependencies=[can_read])
    def get_videos(
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    ) -> dict[str, Any]:
        """The stored videos by path, a page at a time."""
        return catalog.list_videos(library(), offset, limit).to_json()

    @app.get(f"{API}/videos/{{video}}", dependencies=[can_read])
    def get_video(video: str) -> dict[str, Any]:
        """One video and every moment found in it (`show --json`)."""
        lib = library()
        return catalog.show(lib, playback.find_video(lib, video).video_id).to_json()

    @app.delete(f"{API}/videos/{{video}}", dependencies=[can_write])
    def delete_video(video: str) -> dict[str, str]:
        """Forget a video and everything derived from it (`forget --json`)."""
        lib = library()
        video_id = playback.find_video(lib, video).video_id
        with writes:
            return catalog.forget(lib, video_id).to_json()

    @app.get(f"{API}/videos/{{video}}/media", dependencies=[can_read], response_class=FileResponse)
    def get_media(video: str) -> FileResponse:
        """The video's file as indexed, with range requests."""
        media = playback.media_file(library(), video)
        return FileResponse(media.path, media_type=media.media_type, filename=media.path.name)

    @app.get(f"{API}/videos/{{video}}/thumbnails/{{number}}.jpg", dependencies=[can_read])
    def get_thumbnail(video: str, number: int) -> Response:
        """The JPEG of the video's `number`th shot (from 0)."""
        jpeg = playback.thumbnail(library(), video, number)
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})

    @app.get(f"{API}/videos/{{video}}/transcript", dependencies=[can_read])
    def get_transcript(video: str) -> dict[str, Any]:
        """The stored transcript (`transcribe --format json`)."""
        lib = library()
        return stored_transcript(lib, playback.find_video(lib, video).video_id).to_json()

    @app.get(f"{API}/videos/{{video}}/transcript.{{fmt}}", dependencies=[can_read])
    def get_subtitles(video: str, fmt: str) -> Response:
        """The stored transcript as subtitles (`srt`, `vtt`) or plain text (`txt`)."""
        if fmt not in _TEXT_TYPES:
            raise ApiError(404, f"no transcript format {fmt!r}; use srt, vtt or txt")
        lib = library()
        transcript = stored_transcript(lib, playback.find_video(lib, video).video_id)
        return Response(render(transcript, fmt), media_type=_TEXT_TYPES[fmt])

    @app.get(f"{API}/search", dependencies=[can_read])
    def get_search(  # noqa: PLR0917  the query and its filters
        q: Annotated[str, Query(min_length=1, max_length=1000, description="The query.")],
        limit: Annotated[int, Query(ge=1, le=1000)] = 10,
        every: Annotated[bool, Query(alias="all")] = False,
        modality: Annotated[list[str] | None, Query()] = None,
        video: Annotated[list[str] | None, Query()] = None,
        path_glob: str = "",
        language: str = "",
        after: datetime | None = None,
        before: datetime | None = None,
        min_duration: Annotated[float, Query(ge=0)] = 0.0,
    ) -> list[dict[str, Any]]:
        """Moments that answer `q` (`search --json`, as one list)."""
        lib = library()
        ids = tuple(playback.find_video(lib, v).video_id for v in video or ())
        filters = SearchFilters(
            modalities=tuple(modality or ()),
            video_ids=ids,
            path_glob=path_glob,
            language=language,
            after=after,
            before=before,
            min_duration_s=min_duration,
        )
        searcher: Searcher = state["searcher"]
        hits = searcher.search(q, None if every else limit, filters, every)
        return [h.to_json() for h in hits]

    return app


def app_from_env() -> FastAPI:
    """The app over the library `VIDEOLEARN_LIBRARY` names, with settings read as every
    command reads them (`VIDEOLEARN_SERVE__PORT`, the library's TOML file): the factory
    `videolearn serve` hands uvicorn (`uvicorn --factory videolearn.api:app_from_env`
    works the same)."""
    return create_app(load_settings())
