"""The web UI: server-rendered pages (Jinja2) with a little vanilla JavaScript, no build
step and nothing fetched from elsewhere.

An adapter like the CLI and the API: each page calls `apps` and renders what comes back.
The player, its subtitles, thumbnails and the transcript are the API's own endpoints
(`/api/v1/videos/ID/...`), so the page and a script see the same media.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from glob import escape as glob_escape
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from videolearn.apps import banks, catalog, moderation, playback, recommend, themes, tokens
from videolearn.apps.jobs import IndexJobs
from videolearn.apps.search import MODALITIES, Searcher, SearchFilters, hits_by_video
from videolearn.apps.transcribe import sentences, stored_transcript
from videolearn.bounds import Offset, Seconds
from videolearn.errors import QueryError, VideoNotFoundError
from videolearn.library import Library

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TOKEN_COOKIE = "videolearn_token"

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")


def clock(seconds: float) -> str:
    """`m:ss` (or `h:mm:ss`) for a time in a video."""
    whole = int(seconds)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def marked(snippet: str) -> Markup:
    """A hit's snippet, escaped, with the words search marked (`**word**`, the CLI's and
    the API's form) in <mark>."""
    parts = html.escape(snippet).split("**")
    if len(parts) % 2 == 0:  # an unpaired "**" is text, not a mark
        parts[-2:] = ["**".join(parts[-2:])]
    return Markup(
        "".join(f"<mark>{part}</mark>" if i % 2 else part for i, part in enumerate(parts))
    )


def size(n_bytes: float) -> str:
    """A size for a person: `512 KiB`, `2 GiB`."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n_bytes < 1024 or unit == "GiB":
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1024
    raise AssertionError("unreachable")


templates.env.filters["clock"] = clock
templates.env.filters["size"] = size
templates.env.filters["basename"] = lambda path: Path(str(path)).name
templates.env.globals["quote"] = quote
templates.env.globals["urlencode"] = urlencode
templates.env.filters["combine"] = lambda base, **more: {**base, **more}
templates.env.filters["day"] = lambda seconds: datetime.fromtimestamp(seconds).date().isoformat()


def _library(request: Request) -> Library:
    library: Library = request.app.state.library
    return library


def error_page(request: Request, status: int, message: str) -> Response:
    """A page that says what went wrong, for a person (never a trace)."""
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )


@router.get("/", response_class=HTMLResponse)
def search_page(  # noqa: PLR0917  the query and its filters, as the search form sends them
    request: Request,
    q: Annotated[str, Query(max_length=1000)] = "",
    kind: Annotated[str, Query(max_length=20)] = "",
    language: Annotated[str, Query(max_length=10)] = "",
    folder: Annotated[str, Query(max_length=4000)] = "",
    after: Annotated[str, Query(max_length=10)] = "",
    before: Annotated[str, Query(max_length=10)] = "",
    sort: Annotated[str, Query(max_length=10)] = "added",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    offset: Offset = 0,
    month: Annotated[str, Query(max_length=7)] = "",
    forgotten: Annotated[str, Query(max_length=1000)] = "",
) -> Response:
    """The search box and its filters (the kind of moment, the language spoken, a folder,
    the files' dates), and the moments that answer `q` grouped by video, best video
    first; without a query, the library: a page of its videos, sorted and filtered."""
    groups: list[dict[str, Any]] = []
    problem = ""
    shelf = None
    chosen = {
        "kind": kind,
        "language": language,
        "folder": folder,
        "after": after,
        "before": before,
        "month": month,
    }
    if q.strip():
        searcher: Searcher = request.app.state.searcher
        try:
            hits = searcher.search(q, 50, _filters(kind, language, folder, after, before))
        except QueryError as err:
            problem = str(err)
            hits = []
        groups = [
            {
                "video_id": group.video_id,
                "name": group.name,
                "path": group.path,
                "pictures": group.pictures,
                "hits": [
                    {
                        "start_s": h.span.start_s,
                        "modality": h.modality,
                        "snippet": marked(h.snippet),
                    }
                    for h in group.hits
                ],
            }
            for group in hits_by_video(_library(request), hits)
        ]
    else:
        try:
            shelf = catalog.browse(
                _library(request),
                sort,
                order == "desc",
                folder.strip(),
                kind,
                offset,
                SHELF_PAGE,
                month,
            )
        except QueryError as err:
            problem = str(err)
    return templates.TemplateResponse(
        request,
        "search.html",
        {
            "q": q,
            "groups": groups,
            "problem": problem,
            "chosen": chosen,
            "filtered": any(chosen.values()),
            # The filters stay open while any is on, or the library is sorted otherwise.
            "open_filters": any(chosen.values()) or (sort, order) != ("added", "desc"),
            "kinds": MODALITIES if q.strip() else catalog.SHELF_KINDS,
            "shelf": shelf,
            "sort": sort,
            "order": order,
            "sorts": {
                "added": "added",
                "date": "file date",
                "name": "name",
                "duration": "duration",
            },
            "here": {k: v for k, v in {**chosen, "sort": sort, "order": order}.items() if v},
            # The name of a video just forgotten from its page.
            "forgotten": forgotten,
        },
    )


# Videos on a page of the library view.
SHELF_PAGE = 60


def _filters(kind: str, language: str, folder: str, after: str, before: str) -> SearchFilters:
    """The search form's filters as a search takes them: a folder keeps the files under
    it, dates are whole days (`before` includes its day).

    Raises:
        QueryError: a kind, language or date that is not one.
    """

    def day(text: str, name: str) -> datetime | None:
        if not text:
            return None
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise QueryError(f"{name}: not a date (YYYY-MM-DD): {text!r}") from None

    until = day(before, "before")
    folder = folder.strip().rstrip("/")
    return SearchFilters(
        modalities=(kind,) if kind else (),
        language=language.strip().lower(),
        path_glob=f"{glob_escape(folder)}/*" if folder else "",
        after=day(after, "after"),
        before=until + timedelta(days=1) if until else None,
    )


@router.get("/themes", response_class=HTMLResponse)
def themes_page(request: Request) -> Response:
    """The library's themes, largest first, each with its members."""
    return templates.TemplateResponse(
        request, "themes.html", {"themes": themes.themes(_library(request))}
    )


@router.get("/videos/{video}", response_class=HTMLResponse)
def video_page(request: Request, video: str, t: Seconds = 0.0) -> Response:
    """A video: the player (at `t`), its transcript following playback, on-screen text
    and sounds on a timeline, matches, similar videos with their reasons."""
    lib = _library(request)
    row = playback.find_video(lib, video)
    detail = catalog.show(lib, row.video_id)
    transcript = stored_transcript(lib, row.video_id)
    duration_s = row.duration_s or max((m.span.end_s for m in detail.moments), default=0.0)
    events = [
        {
            "start_s": m.span.start_s,
            "modality": m.modality,
            "what": m.text or m.label,
            **_place(m.span.start_s, m.span.end_s, duration_s),
        }
        for m in detail.moments
        if m.modality in ("text", "sound", "nudity")
    ]
    lanes = _lanes(events)
    versions: playback.PlayableVersions = request.app.state.playables
    try:
        version = versions.get(row.video_id)
        problem = version.reason
    except VideoNotFoundError as err:
        version, problem = None, str(err)
    media_type = ""
    if version is not None:
        media = version.media
        media_type = media.media_type if media else "video/mp4"
    return templates.TemplateResponse(
        request,
        "video.html",
        {
            "video": row,
            "name": detail.name,
            "title": detail.title or "",
            "title_max": lib.settings.title_max_chars,
            "file_name": Path(row.path).name,
            # Every other path the same content was indexed under (copies, uploads).
            "other_paths": [p for p in detail.paths if p != row.path],
            # What forgetting it removes from the library.
            "held": {
                "moments": len(detail.moments),
                "thumbnails": len(detail.thumbnails),
                "vectors": len(detail.embeddings),
            },
            "start_s": t,
            "duration_s": duration_s,
            "segments": sentences(transcript.segments),
            "language": transcript.language,
            "events": events,
            "lanes": lanes,
            "shots": detail.thumbnails,
            "matches": detail.matches,
            "similar": recommend.similar(lib, [row.video_id], limit=6),
            "verdicts": moderation.verdicts_on(lib, row.video_id),
            "media_type": media_type,
            "media_problem": problem,
            # The version for browsers failed, the original is there to download.
            "downloadable": version is not None,
            "plan": str(version.plan) if version else "",
            "ready": version is not None and version.state == playback.PlayState.READY,
        },
    )


# A lane of the timeline's marks is this tall, in CSS pixels.
LANE_PX = 12


def _lanes(events: list[dict[str, Any]]) -> int:
    """Put each timeline mark in a lane where it overlaps no other (on-screen text above
    sound, each kind in as few lanes as its overlaps need), set its `top` in pixels, and
    return the number of lanes."""
    lanes = 0
    for kind in ("text", "nudity", "sound"):
        ends: list[float] = []  # where each of this kind's lanes is free from, in percent
        for e in sorted((e for e in events if e["modality"] == kind), key=lambda e: e["left_pct"]):
            # A mark that starts where another ends (a touch, not an overlap) shares its lane.
            free = next((k for k, end in enumerate(ends) if end <= e["left_pct"] + 1e-6), None)
            if free is None:
                free = len(ends)
                ends.append(0.0)
            ends[free] = e["left_pct"] + e["width_pct"]
            e["top_px"] = 3 + (lanes + free) * LANE_PX
        lanes += len(ends)
    return max(lanes, 2)


def _place(start_s: float, end_s: float, duration_s: float) -> dict[str, float]:
    """Where a moment sits on the timeline, in percent of its width (at least a sliver,
    never past the end)."""
    if duration_s <= 0:
        return {"left_pct": 0.0, "width_pct": 0.8}
    left = min(max(100 * start_s / duration_s, 0.0), 99.2)
    width = max(100 * (end_s - start_s) / duration_s, 0.8)
    return {"left_pct": round(left, 3), "width_pct": round(min(width, 100 - left), 3)}


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request) -> Response:
    """Upload a file and watch it being indexed; the server's recent jobs."""
    lib = _library(request)
    jobs: IndexJobs = request.app.state.jobs
    return templates.TemplateResponse(
        request,
        "upload.html",
        {
            "allowed": _may_write(request),
            "jobs": [j.to_json() for j in jobs.list()[:10]],
            "max_bytes": lib.settings.serve.upload_max_bytes,
            # Folders the server may index from (besides its uploads).
            "roots": [str(r) for r in lib.settings.serve.roots],
        },
    )


def _may_write(request: Request) -> bool:
    """Whether this browser may change the library: no token is needed, or its login
    cookie holds an active one."""
    token = request.cookies.get(TOKEN_COOKIE, "")
    return not request.app.state.writes_need_token or (
        bool(token) and tokens.check_token(_library(request), token) is not None
    )


# What each signal of a verdict's evidence is called on the review page.
SIGNAL_NAMES = {
    "speech": "said",
    "text": "on screen",
    "sound": "heard",
    "nudity": "nudity",
    "bank": "hash bank match",
    "meaning": "meaning",
}


def matched_in(text: str, matched: str) -> Markup:
    """A piece of evidence's text, escaped, with every place the term that matched it
    stands as written (case aside) marked; a term found only as an inflection or a
    look-alike spelling is shown beside it by the page."""
    folded = text.casefold()
    if not matched or len(folded) != len(text):  # folding changed lengths: no marks
        return Markup(html.escape(text))
    out, at = [], 0
    while (found := folded.find(matched.casefold(), at)) >= 0:
        end = found + len(matched)
        out += [html.escape(text[at:found]), f"<mark>{html.escape(text[found:end])}</mark>"]
        at = end
    return Markup("".join([*out, html.escape(text[at:])]))


templates.env.filters["matched_in"] = matched_in
templates.env.globals["signal_names"] = SIGNAL_NAMES


@router.get("/review", response_class=HTMLResponse)
def review_page(
    request: Request,
    status: Annotated[str, Query(pattern="^(pending|accepted|rejected|noted)$")] = "pending",
    offset: Offset = 0,
) -> Response:
    """The verdicts kept for people, a status at a time: each with its video, policy,
    action and the evidence (a frame, the time, the words or label) to accept or reject."""
    lib = _library(request)
    page = moderation.review_page(lib, status, offset)
    return templates.TemplateResponse(
        request,
        "review.html",
        {
            "page": page,
            "allowed": _may_write(request),
            # Banks an accepted video may be added to (an allow list takes no bad video).
            "banks": [b.name for b in banks.list_banks(lib) if not b.allow],
            "has_policies": page.policies.exists(),
        },
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    """Ask for a token (a server beyond loopback needs one for every page), saying what
    this server needs one for."""
    return templates.TemplateResponse(
        request, "login.html", {"next": _local(next), "problem": "", **_needs(request)}
    )


def _needs(request: Request) -> dict[str, bool]:
    state = request.app.state
    return {"reads_need": state.reads_need_token, "writes_need": state.writes_need_token}


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    token: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the token; keep it in a cookie the pages and the player send."""
    if tokens.check_token(_library(request), token.strip()) is None:
        return templates.TemplateResponse(
            request,
            "login.html",
            {
                "next": _local(next),
                "problem": "That token is not valid (revoked, or mistyped).",
                **_needs(request),
            },
            status_code=401,
        )
    answer = RedirectResponse(_local(next), status_code=303)
    secure = request.url.scheme == "https"
    answer.set_cookie(TOKEN_COOKIE, token.strip(), httponly=True, samesite="strict", secure=secure)
    return answer


def _local(target: str) -> str:
    """Only a path on this server: never send a person elsewhere after logging in."""
    return target if target.startswith("/") and not target.startswith("//") else "/"
