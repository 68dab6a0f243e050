"""The HTTP API's endpoints under `/api/v1/`.

An adapter like the CLI: each endpoint translates a request into one `apps` call and its
result into the CLI's JSON shape (`GET /api/v1/search` answers the moments of
`search --json` as one list). The server (`videolearn.server`) opens the library, checks
tokens and turns errors into answers; media is served only as `apps.playback` allows (a
video id in, the indexed path out), with HTTP range requests (Starlette's `FileResponse`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from videolearn.api import schemas
from videolearn.apps import audit, catalog, moderation, playback, recommend, sound, themes
from videolearn.apps.banks import add_value, create_bank, export_json, import_file, list_banks
from videolearn.apps.hashing import hash_file
from videolearn.apps.jobs import (
    FILE_NAME_PATTERN,
    IndexJobs,
    JobView,
    UploadWriter,
    receive_upload,
)
from videolearn.apps.matching import match_file
from videolearn.apps.playback import PlayableVersions, PlayState
from videolearn.apps.search import Searcher, SearchFilters
from videolearn.apps.transcribe import render, stored_transcript
from videolearn.bounds import Offset, RowId, Seconds
from videolearn.library import Library

router = APIRouter(prefix="/api/v1")

_TEXT_TYPES = {
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}


def _library(request: Request) -> Library:
    library: Library = request.app.state.library
    return library


LibraryDep = Annotated[Library, Depends(_library)]
# Endpoints that stream the body to a file take any bytes (not JSON).
_RAW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
# The pattern is documented, and checked by `receive_upload`, whose answer says what is
# wrong in words rather than by quoting the pattern.
FileName = Annotated[
    str,
    Query(
        description="The file's name, with its extension.",
        json_schema_extra={"pattern": FILE_NAME_PATTERN},
    ),
]


def _answers(shape: Any) -> dict[str, Any]:
    """What a JSON route declares: the shape it answers with (`api/schemas.py`), each
    answer holding only the fields its `to_json` gave (none added as null)."""
    return {"response_model": shape, "response_model_exclude_unset": True}


@router.get("/status", **_answers(schemas.LibraryStatus))
def get_status(lib: LibraryDep) -> dict[str, Any]:
    """Indexed, failed and pending files (`status --json`)."""
    return catalog.status(lib).to_json()


@router.get("/videos", **_answers(schemas.VideoPage))
def get_videos(
    lib: LibraryDep,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """The stored videos by path, a page at a time."""
    return catalog.list_videos(lib, offset, limit).to_json()


@router.get("/library", **_answers(schemas.LibraryPage))
def get_library(  # noqa: PLR0917  a page and what it holds
    lib: LibraryDep,
    sort: Annotated[str, Query(description="added, date, name or duration")] = "added",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    folder: Annotated[str, Query(max_length=4000)] = "",
    kind: Annotated[str, Query(description="speech, text, sound or nudity")] = "",
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 60,
    month: Annotated[str, Query(description="YYYY-MM: the files' month")] = "",
) -> dict[str, Any]:
    """A page of the library view: the videos sorted and filtered, how many there are in
    all, the folders that hold them and the months their files are from."""
    page = catalog.browse(lib, sort, order == "desc", folder, kind, offset, limit, month)
    return page.to_json()


@router.get("/videos/{video}/poster.jpg")
def get_poster(video: str, lib: LibraryDep) -> Response:
    """The JPEG that stands for a video in the library view (its longest shot's)."""
    jpeg = playback.poster(lib, video)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


@router.get("/videos/{video}", **_answers(schemas.VideoDetail))
def get_video(video: str, lib: LibraryDep) -> dict[str, Any]:
    """One video and every moment found in it (`show --json`)."""
    return catalog.show(lib, playback.find_video(lib, video).video_id).to_json()


@router.get(
    "/videos/{video}/similar",
    **_answers(schemas.Recommendations),
)
def get_similar(
    video: str, lib: LibraryDep, limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> dict[str, Any]:
    """Videos like this one, with reasons, its copies apart (`similar --json`)."""
    return recommend.similar(lib, [playback.find_video(lib, video).video_id], limit).to_json()


@router.get(
    "/videos/{video}/sound-alike",
    **_answers(list[schemas.SoundAlike]),
)
def get_sound_alike(
    video: str, lib: LibraryDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[dict[str, Any]]:
    """Videos sharing this one's sound, and where (`sound-alike --json`)."""
    found = sound.sound_alike(lib, playback.find_video(lib, video).video_id, limit)
    return [alike.to_json() for alike in found]


@router.get("/themes", **_answers(list[schemas.Theme]))
def get_themes(lib: LibraryDep) -> list[dict[str, Any]]:
    """The themes, largest first (`themes --json`, as one list)."""
    return [theme.to_json() for theme in themes.themes(lib)]


@router.delete("/videos/{video}", **_answers(schemas.Forgotten))
def delete_video(video: str, request: Request, lib: LibraryDep) -> dict[str, str]:
    """Forget a video and everything derived from it (`forget --json`)."""
    video_id = playback.find_video(lib, video).video_id
    with request.app.state.writes:
        return catalog.forget(lib, video_id).to_json()


@router.put("/videos/{video}/title", **_answers(schemas.VideoTitle))
def put_title(
    video: str,
    request: Request,
    lib: LibraryDep,
    title: Annotated[str, Body(embed=True, description="Blank takes the title away.")],
) -> dict[str, Any]:
    """Give a video the title a person chose (`title --json`); the token's name is who
    set it, in the audit log."""
    video_id = playback.find_video(lib, video).video_id
    with request.app.state.writes:
        return catalog.set_title(lib, video_id, title, who=request.state.caller).to_json()


class _MediaResponse(FileResponse):
    # Reads of 1 MiB rather than Starlette's 64 KiB: a range is sent in fewer turns of the
    # event loop (1 MiB ranges from 4 clients, bench/api.py: 152 MiB/s with 64 KiB reads,
    # 317-351 MiB/s with 1 MiB).
    chunk_size = 1 << 20


@router.get("/videos/{video}/media", response_class=FileResponse)
def get_media(video: str, lib: LibraryDep) -> FileResponse:
    """The video's file as indexed, with range requests."""
    media = playback.media_file(lib, video)
    return _MediaResponse(media.path, media_type=media.media_type, filename=media.path.name)


@router.get("/videos/{video}/playable", response_class=FileResponse)
def get_playable(video: str, request: Request, transcode: bool = False) -> Response:
    """What a browser plays: the file as indexed when browsers play it, else a version
    made for them (remuxed into MP4, or transcoded to H.264 and AAC), made once and kept;
    with `transcode`, the transcoded version whatever the file holds (for a browser that
    could not decode the other). 202 while it is being made (ask again after
    Retry-After), 422 when it cannot be."""
    version = _playables(request).get(video, transcode)
    if version.state == PlayState.READY and version.media is not None:
        media = version.media
        return _MediaResponse(media.path, media_type=media.media_type, filename=media.path.name)
    if version.state == PlayState.FAILED:
        return JSONResponse({"error": version.reason, **version.to_json()}, 422)
    return JSONResponse(version.to_json(), 202, headers={"Retry-After": "1"})


@router.get(
    "/videos/{video}/playable/status",
    **_answers(schemas.Playable),
)
def get_playable_status(video: str, request: Request, transcode: bool = False) -> dict[str, str]:
    """Whether the playable version (with `transcode`, the transcoded one) is ready
    (`state`), and how it is made (`plan`: as_is, remux, transcode); asking starts
    making it."""
    return _playables(request).get(video, transcode).to_json()


def _playables(request: Request) -> PlayableVersions:
    versions: PlayableVersions = request.app.state.playables
    return versions


@router.get("/videos/{video}/thumbnails/{number}.jpg")
def get_thumbnail(video: str, number: int, lib: LibraryDep) -> Response:
    """The JPEG of the video's `number`th shot (from 0)."""
    jpeg = playback.thumbnail(lib, video, number)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


@router.get("/videos/{video}/thumbnail.jpg")
def get_thumbnail_at(video: str, lib: LibraryDep, t: Seconds = 0.0) -> Response:
    """The JPEG of the frame the video shows at `t` seconds (its shot's thumbnail when the
    file cannot be decoded there)."""
    jpeg = playback.still(lib, video, t)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


@router.get(
    "/videos/{video}/transcript",
    **_answers(schemas.Transcript),
)
def get_transcript(video: str, lib: LibraryDep) -> dict[str, Any]:
    """The stored transcript (`transcribe --format json`)."""
    return stored_transcript(lib, playback.find_video(lib, video).video_id).to_json()


@router.get("/videos/{video}/transcript.{fmt}")
def get_subtitles(video: str, fmt: str, lib: LibraryDep) -> Response:
    """The stored transcript as subtitles (`srt`, `vtt`) or plain text (`txt`)."""
    if fmt not in _TEXT_TYPES:
        raise HTTPException(404, f"no transcript format {fmt!r}; use srt, vtt or txt")
    transcript = stored_transcript(lib, playback.find_video(lib, video).video_id)
    return Response(render(transcript, fmt), media_type=_TEXT_TYPES[fmt])


@router.get("/search", **_answers(list[schemas.MomentHit]))
def get_search(  # noqa: PLR0917  the query and its filters
    request: Request,
    lib: LibraryDep,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="The query.")],
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    every: Annotated[bool, Query(alias="all")] = False,
    modality: Annotated[list[str] | None, Query()] = None,
    video: Annotated[list[str] | None, Query()] = None,
    path_glob: str = "",
    language: str = "",
    after: datetime | None = None,
    before: datetime | None = None,
    min_duration: Seconds = 0.0,
) -> list[dict[str, Any]]:
    """Moments that answer `q` (`search --json`, as one list)."""
    filters = SearchFilters(
        modalities=tuple(modality or ()),
        video_ids=tuple(playback.find_video(lib, v).video_id for v in video or ()),
        path_glob=path_glob,
        language=language,
        after=after,
        before=before,
        min_duration_s=min_duration,
    )
    searcher: Searcher = request.app.state.searcher
    hits = searcher.search(q, None if every else limit, filters, every)
    return [h.to_json() for h in hits]


def _jobs(request: Request) -> IndexJobs:
    jobs: IndexJobs = request.app.state.jobs
    return jobs


JobsDep = Annotated[IndexJobs, Depends(_jobs)]


@router.post("/uploads", status_code=201, openapi_extra=_RAW_BODY, response_model=schemas.Upload)
async def post_upload(
    request: Request,
    jobs: JobsDep,
    name: FileName,
) -> JSONResponse:
    """Store the request's body as the file `name` in the library's uploads folder and
    start an index job on it (refused with 413 past `serve.upload_max_bytes`)."""
    path = await _receive(request, jobs.save_upload(name))
    job = jobs.start([str(path)])
    return JSONResponse(
        {"path": str(path), "size_bytes": path.stat().st_size, "job": job.to_json()}, 201
    )


@router.post("/jobs", status_code=201, **_answers(schemas.Job))
def post_job(
    jobs: JobsDep,
    paths: Annotated[list[str], Body(embed=True, description="Files or folders to index.")],
) -> dict[str, Any]:
    """Start an index job on files or folders inside `serve.roots`."""
    return jobs.start(paths).to_json()


@router.get("/jobs", **_answers(list[schemas.Job]))
def get_jobs(jobs: JobsDep) -> list[dict[str, Any]]:
    """The server's index jobs, newest first."""
    return [j.to_json() for j in jobs.list()]


@router.get("/jobs/{job_id}", **_answers(schemas.Job))
def get_job(job_id: int, jobs: JobsDep) -> dict[str, Any]:
    """One index job: its state, progress and per-file results."""
    return jobs.get(job_id).to_json()


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Events"}},
)
async def get_job_events(job_id: int, request: Request, jobs: JobsDep) -> StreamingResponse:
    """The job as server-sent events: one `progress` event per change, `done` at the end."""
    first = jobs.get(job_id)

    def event(job: JobView) -> str:
        kind = "done" if job.finished else "progress"
        return f"event: {kind}\ndata: {json.dumps(job.to_json())}\n\n"

    async def events() -> AsyncIterator[str]:
        job = first
        yield event(job)
        while not job.finished:
            if await request.is_disconnected():
                return
            newer = await run_in_threadpool(jobs.wait, job_id, job.version, 15.0)
            if newer.version == job.version:
                yield ": still running\n\n"  # a comment keeps proxies from closing the stream
                continue
            job = newer
            yield event(job)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


async def _receive(request: Request, writer: UploadWriter) -> Path:
    """The request's body, streamed into `writer`'s file (413 past the upload limit)."""
    limit = writer.max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        writer.abort()
        raise HTTPException(413, f"upload larger than serve.upload_max_bytes ({limit} bytes)")
    try:
        async for chunk in request.stream():
            writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    return writer.finish()


@asynccontextmanager
async def _passing_file(
    request: Request, lib: Library, name: str, *, media: bool
) -> AsyncIterator[Path]:
    """The request's body as a file that is read and then deleted (to hash, match or
    import): in the uploads folder's `.incoming`, under the upload limit."""
    path = await _receive(request, receive_upload(lib, name, media=media, keep=False))
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


# -- hashes, banks, matching ------------------------------------------------------------


@router.post(
    "/hash",
    openapi_extra=_RAW_BODY,
    **_answers(list[schemas.FileHash]),
)
async def post_hash(
    request: Request,
    lib: LibraryDep,
    name: FileName,
    signal: Annotated[Literal["pdq", "vpdq", "md5"], Query(description="The hash.")] = "vpdq",
) -> list[dict[str, Any]]:
    """Hash the file in the body (`hash --json`, as one list); the file is not kept."""
    async with _passing_file(request, lib, name, media=True) as path:
        hashes = await run_in_threadpool(hash_file, path, signal, lib.settings)
    return hashes.to_json()


@router.post(
    "/match",
    openapi_extra=_RAW_BODY,
    **_answers(schemas.MatchReport),
)
async def post_match(
    request: Request,
    lib: LibraryDep,
    name: FileName,
    bank: str | None = None,
) -> dict[str, Any]:
    """Match the file in the body against the banks (or only `bank`): `match --json`'s
    lines as `matches`, and why nothing may have matched as `notes`. Not kept."""
    async with _passing_file(request, lib, name, media=True) as path:
        report = await run_in_threadpool(match_file, lib, path, bank)
    return {"matches": [m.to_json() for m in report.matches], "notes": report.notes}


@router.post("/moderate", **_answers(list[schemas.Verdict]))
def post_moderate(
    request: Request,
    lib: LibraryDep,
    videos: Annotated[
        list[str], Body(embed=True, description="Paths or ids; every video when empty.")
    ] = [],  # noqa: B006  FastAPI copies defaults
) -> list[dict[str, Any]]:
    """Verdicts under the library's policies, new ones kept for review (`moderate
    --json`, as one list)."""
    with request.app.state.writes:
        report = moderation.moderate(lib, videos, who=request.state.caller)
    return [v.to_json() for v in report.verdicts]


@router.get("/review", **_answers(list[schemas.ReviewItem]))
def get_review(
    lib: LibraryDep,
    status: Annotated[Literal["pending", "accepted", "rejected", "noted"] | None, Query()] = None,
    offset: Offset = 0,
    limit: Annotated[
        int | None,
        Query(ge=1, le=10_000, description="A page of one status, as the review page shows it."),
    ] = None,
) -> list[dict[str, Any]]:
    """Kept verdicts, oldest first (`review list --json`, as one list); with `limit`, a
    page of those with `status` (pending when not given) in the order the review page
    takes them: pending `block` first, decided ones latest decision first."""
    if limit is not None:
        page = moderation.review_page(lib, status or "pending", offset, limit)
        return [item.to_json() for item in page.items]
    return [item.to_json() for item in moderation.review_items(lib, status)]


@router.post("/review/{item_id}", **_answers(schemas.ReviewItem))
def post_review(  # noqa: PLR0917  a decision and what comes with it
    request: Request,
    item_id: RowId,
    lib: LibraryDep,
    decision: Annotated[Literal["accept", "reject"], Body()],
    note: Annotated[str, Body(max_length=2000)] = "",
    bank: Annotated[str | None, Body(description="Bank an accepted video's file.")] = None,
) -> dict[str, Any]:
    """A reviewer's decision on a kept verdict (`review decide --json`); the token's name
    is who decided, in the audit log."""
    with request.app.state.writes:
        item = moderation.decide(
            lib,
            item_id,
            accept=decision == "accept",
            note=note,
            bank=bank,
            who=request.state.caller,
        )
    return item.to_json()


@router.get("/audit", **_answers(list[schemas.AuditEntry]))
def get_audit(lib: LibraryDep) -> list[dict[str, Any]]:
    """The audit log, oldest first (`audit --json`, as one list)."""
    return [entry.to_json() for entry in audit.audit_log(lib)]


@router.get("/audit/verify", **_answers(schemas.AuditCheck))
def get_audit_verify(lib: LibraryDep) -> dict[str, Any]:
    """Whether the audit log is whole (`audit verify --json`)."""
    return audit.verify_audit(lib).to_json()


@router.get("/banks", **_answers(list[schemas.BankSummary]))
def get_banks(lib: LibraryDep) -> list[dict[str, Any]]:
    """Every bank and how many signals of each type it holds (`bank list --json`)."""
    return [b.to_json() for b in list_banks(lib)]


@router.post("/banks", status_code=201, **_answers(schemas.BankCreated))
def post_bank(
    request: Request, lib: LibraryDep, name: Annotated[str, Body(embed=True)]
) -> dict[str, str]:
    """Create an empty bank."""
    with request.app.state.writes:
        create_bank(lib, name)
    return {"bank": name, "status": "created"}


@router.post("/banks/{bank}/signals", **_answers(schemas.BankChange))
def post_bank_signal(
    request: Request,
    bank: str,
    lib: LibraryDep,
    signal_type: Annotated[str, Body(description="md5, pdq or vpdq.")],
    value: Annotated[str, Body(description="The hash (vpdq: its exchanged signal).")],
) -> dict[str, object]:
    """Add a hash to a bank; the stored videos are matched again (`bank add --json`)."""
    with request.app.state.writes:
        return add_value(lib, bank, signal_type, value).to_json()


@router.post(
    "/banks/{bank}/import",
    openapi_extra=_RAW_BODY,
    **_answers(schemas.BankChange),
)
async def post_bank_import(
    request: Request,
    bank: str,
    lib: LibraryDep,
    name: FileName = "signals.txt",
) -> dict[str, object]:
    """Import the signal file in the body, all or nothing (`bank import --json`)."""
    async with _passing_file(request, lib, name, media=False) as path:

        def locked() -> dict[str, object]:
            with request.app.state.writes:
                return import_file(lib, bank, path).to_json()

        return await run_in_threadpool(locked)


@router.get(
    "/banks/{bank}/export",
    **_answers(list[schemas.ExportedSignal]),
)
def get_bank_export(bank: str, lib: LibraryDep) -> list[dict[str, str]]:
    """The bank's signals (`bank export --json`, as one list)."""
    return export_json(lib, bank)
