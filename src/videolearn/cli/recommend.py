"""`sound-alike`: videos that share an audio track with a video, and where."""

from __future__ import annotations

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

VideoArgument = Annotated[
    str, typer.Argument(help="An indexed video: a path or an id.", metavar="VIDEO")
]


@app.command("sound-alike")
def sound_alike(
    video: VideoArgument,
    limit: Annotated[int, typer.Option(min=1, help="Videos at most.", metavar="N")] = 20,
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """Videos that use the same sound (a song, a recording) as VIDEO, with where the
    shared sound lies in each."""
    from videolearn.apps.sound import sound_alike as find
    from videolearn.errors import VideoNotFoundError

    with open_cli_library(library) as lib:
        try:
            found = find(lib, video, limit)
        except VideoNotFoundError as err:
            raise fail(str(err), EXIT_USAGE) from None
    if as_json:
        for alike in found:
            emit(alike.to_json())
        return
    if not found:
        typer.echo("no indexed video shares its sound")
    for alike in found:
        typer.echo(f"{alike.path}  ({alike.shared_s:.1f} s shared)")
        for s in alike.shared:
            typer.echo(
                f"  {s.other.start_s:8.1f} - {s.other.end_s:8.1f} s there"
                f"  = {s.query.start_s:8.1f} - {s.query.end_s:8.1f} s here"
            )
