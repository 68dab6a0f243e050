"""`sound-alike`, `similar` and `duplicates`: videos that share sound, videos to watch
next, and people's decisions on copies."""

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


@app.command()
def similar(
    videos: Annotated[
        list[str],
        typer.Argument(
            help="Indexed videos (paths or ids); several are a watch history, the last "
            "watched most recently.",
            metavar="VIDEO...",
        ),
    ],
    limit: Annotated[int, typer.Option(min=1, help="Recommendations at most.", metavar="N")] = 10,
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """Videos like these (the same song, the same look, the same topic), with the reasons;
    copies of them apart."""
    from videolearn.apps.recommend import similar as recommend
    from videolearn.errors import OptionError, VideoNotFoundError

    with open_cli_library(library) as lib:
        try:
            found = recommend(lib, videos, limit)
        except (VideoNotFoundError, OptionError) as err:
            raise fail(str(err), EXIT_USAGE) from None
    if as_json:
        emit(found.to_json())
        return
    if not found.results:
        # Nothing passed the floor, or the library holds nothing else.
        typer.echo("no indexed video is like it")
    for n, r in enumerate(found.results, start=1):
        typer.echo(f"{n:3d}. {r.path}  ({r.score:.2f})")
        for reason in r.reasons:
            typer.echo(f"       {reason}")
        for c in r.copies:
            typer.echo(f"       also as {c.path} ({c.reason})")
    if found.duplicates:
        typer.echo("copies, not recommended:")
        for d in found.duplicates:
            typer.echo(f"     {d.path}  ({d.reason})")


duplicates_app = typer.Typer(
    help="Copies in the library, and people's decisions that two videos are, or are not.",
    invoke_without_command=True,
)


@duplicates_app.callback()
def duplicates(
    ctx: typer.Context,
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """List the decisions on copies (or record one: `duplicates decide A B --copy`)."""
    if ctx.invoked_subcommand is not None:
        return
    from videolearn.apps.recommend import copy_decisions

    with open_cli_library(library) as lib:
        decisions = copy_decisions(lib)
    for d in decisions:
        if as_json:
            emit(d.to_json())
        else:
            word = "copies" if d.decision.copy else "not copies"
            typer.echo(f"{word}: {d.path_a}  {d.path_b}  {d.decision.note}".rstrip())
    if not decisions and not as_json:
        typer.echo("no decisions on copies yet")


@duplicates_app.command("families")
def families(
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """List the families of copies: the video shown for each, and its copies with why."""
    from videolearn.apps.copies import copy_families

    with open_cli_library(library) as lib:
        found = copy_families(lib)
    for family in found:
        if as_json:
            emit(family.to_json())
            continue
        typer.echo(f"{family.path}  ({len(family.copies)} copies)")
        for c in family.copies:
            typer.echo(f"  {c.path}  {c.reason}")
    if not found and not as_json:
        typer.echo("no copies in the library")


@duplicates_app.command("decide")
def decide(  # noqa: PLR0917  typer options
    first: VideoArgument,
    second: VideoArgument,
    copy: Annotated[
        bool,
        typer.Option(
            "--copy/--not-copy",
            help="They are copies (left out of each other's recommendations), or not.",
            metavar="",
        ),
    ],
    note: Annotated[str, typer.Option(help="Why, in a few words.", metavar="TEXT")] = "",
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """Decide that two videos are copies or are not; kept through every re-index."""
    from videolearn.apps.recommend import decide_copies
    from videolearn.errors import OptionError, VideoNotFoundError

    with open_cli_library(library) as lib:
        try:
            decided = decide_copies(lib, first, second, copy, note)
        except (VideoNotFoundError, OptionError) as err:
            raise fail(str(err), EXIT_USAGE) from None
    if as_json:
        emit(decided.to_json())
    else:
        word = "copies" if copy else "not copies"
        typer.echo(f"recorded: {decided.path_a} and {decided.path_b} are {word}")


@app.command()
def themes(
    update: Annotated[
        bool,
        typer.Option(
            "--update",
            help="Cluster the library again first (`index` does after each run).",
            metavar="",
        ),
    ] = False,
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """Themes: clusters of similar videos, each named by the words that set it apart."""
    from videolearn.apps.themes import themes as stored
    from videolearn.apps.themes import update_themes

    with open_cli_library(library) as lib:
        found = update_themes(lib) if update else stored(lib)
    if as_json:
        for theme in found:
            emit(theme.to_json())
        return
    if not found:
        typer.echo("no themes yet (too few similar videos)")
    for theme in found:
        grows = ", growing" if theme.growing else ""
        typer.echo(f"#{theme.theme_id} {theme.label or '(no words)'}  ({theme.size} videos{grows})")
        for member in theme.members:
            typer.echo(f"    {member.path}")
