"""`search`: moments that answer a query."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from videolearn.cli.common import (
    DEFAULT_LIBRARY_PATH,
    EXIT_USAGE,
    JsonOption,
    LibraryOption,
    emit,
    fail,
    open_cli_library,
)

app = typer.Typer()

DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


@app.command()
def search(  # noqa: PLR0917  typer options
    query: Annotated[
        str,
        typer.Argument(
            help="Words in any language; `sound:laughter` names a modality, and "
            "`sound:laughter & speech:birthday` finds laughter while someone says birthday.",
            metavar="QUERY",
        ),
    ],
    limit: Annotated[int, typer.Option(min=1, help="Moments at most.", metavar="N")] = 10,
    every: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Every moment that answers (every word, or its meaning past "
            "search.min_relevance), by video in time order.",
            metavar="",
        ),
    ] = False,
    modality: Annotated[
        list[str] | None,
        typer.Option(
            help="Only moments of this kind: speech, text, sound, visual (repeatable).",
            metavar="MODALITY",
        ),
    ] = None,
    video: Annotated[
        list[str] | None,
        typer.Option(help="Only this video: a path or an id (repeatable).", metavar="VIDEO"),
    ] = None,
    path_glob: Annotated[
        str,
        typer.Option(
            help="Only videos whose path matches this glob (* crosses folders).", metavar="GLOB"
        ),
    ] = "",
    language: Annotated[
        str,
        typer.Option(
            help="Only videos with speech in this language (en, de, ...).", metavar="LANG"
        ),
    ] = "",
    after: Annotated[
        datetime | None,
        typer.Option(
            formats=DATE_FORMATS,
            help="Only files last changed at or after this local time (YYYY-MM-DD[THH:MM]).",
            metavar="DATE",
        ),
    ] = None,
    before: Annotated[
        datetime | None,
        typer.Option(
            formats=DATE_FORMATS,
            help="Only files last changed before this local time (YYYY-MM-DD[THH:MM]).",
            metavar="DATE",
        ),
    ] = None,
    min_duration: Annotated[
        float,
        typer.Option(min=0, help="Only moments lasting at least this many seconds.", metavar="S"),
    ] = 0.0,
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """Moments that answer a query: what was said, written on screen, heard or shown, and
    when."""
    from videolearn.apps.search import SearchFilters, group_by_video, search_moments
    from videolearn.errors import QueryError, VideoNotFoundError

    with open_cli_library(library) as lib:
        try:
            filters = SearchFilters(
                modalities=tuple(modality or ()),
                videos=tuple(video or ()),
                path_glob=path_glob,
                language=language,
                after=after,
                before=before,
                min_duration_s=min_duration,
            )
            hits = search_moments(lib, query, None if every else limit, None, filters, every)
        except (VideoNotFoundError, QueryError) as err:
            raise fail(str(err), EXIT_USAGE) from None
    if as_json:
        for hit in hits:
            emit(hit.to_json())
        return
    if not hits:
        typer.echo("no moment matches")
    if every:
        for path, found in group_by_video(hits):
            typer.echo(f"{path}  ({len(found)} moments)")
            for hit in found:
                span = f"{hit.span.start_s:9.2f} - {hit.span.end_s:9.2f}"
                typer.echo(f"  {span}  {hit.modality:6} {hit.snippet}")
        return
    for hit in hits:
        span = f"{hit.span.start_s:9.2f} - {hit.span.end_s:9.2f}"
        typer.echo(f"{hit.path}\n  {span}  {hit.modality:6} {hit.snippet}")
