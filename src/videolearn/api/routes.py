"""The HTTP API's endpoints under `/api/v1/`.

An adapter like the CLI: each endpoint translates a request into one `apps` call and its
result into the CLI's JSON shape (`GET /api/v1/search` answers the moments of
`search --json` as one list). The server (`videolearn.server`) opens the library, checks
tokens and turns errors into answers; media is served only as `apps.playback` allows (a
video id in, the indexed path out), with HTTP range requests (Starlette's `FileResponse`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response

from videolearn.apps import catalog, playback
from videolearn.apps.search import Searcher, SearchFilters
from videolearn.apps.transcribe import render, stored_transcript
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


@router.get("/status")
def get_status(lib: LibraryDep) -> dict[str, Any]:
    """Indexed, failed and pending files (`status --json`)."""
    return catalog.status(lib).to_json()


@router.get("/videos")
def get_videos(
    lib: LibraryDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """The stored videos by path, a page at a time."""
    return catalog.list_videos(lib, offset, limit).to_json()


@router.get("/videos/{video}")
def get_video(video: str, lib: LibraryDep) -> dict[str, Any]:
    """One video and every moment found in it (`show --json`)."""
    return catalog.show(lib, playback.find_video(lib, video).video_id).to_json()


@router.delete("/videos/{video}")
def delete_video(video: str, request: Request, lib: LibraryDep) -> dict[str, str]:
    """Forget a video and everything derived from it (`forget --json`)."""
    video_id = playback.find_video(lib, video).video_id
    with request.app.state.writes:
        return catalog.forget(lib, video_id).to_json()


@router.get("/videos/{video}/media", response_class=FileResponse)
def get_media(video: str, lib: LibraryDep) -> FileResponse:
    """The video's file as indexed, with range requests."""
    media = playback.media_file(lib, video)
    return FileResponse(media.path, media_type=media.media_type, filename=media.path.name)


@router.get("/videos/{video}/thumbnails/{number}.jpg")
def get_thumbnail(video: str, number: int, lib: LibraryDep) -> Response:
    """The JPEG of the video's `number`th shot (from 0)."""
    jpeg = playback.thumbnail(lib, video, number)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


@router.get("/videos/{video}/thumbnail.jpg")
def get_thumbnail_at(
    video: str, lib: LibraryDep, t: Annotated[float, Query(ge=0)] = 0.0
) -> Response:
    """The JPEG of the shot the video is in at `t` seconds."""
    jpeg = playback.thumbnail_at(lib, video, t)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


@router.get("/videos/{video}/transcript")
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


@router.get("/search")
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
    min_duration: Annotated[float, Query(ge=0)] = 0.0,
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
